"""Over HTTP as on the command line: look-alike identities are refused with one
line naming the field, unassigned tenants are denied UNKNOWN_TENANT, consent
events are read strictly, and nothing a client sends is a 5xx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trainguard.app import Application, create_key
from trainguard.http import create_app

from ..decision.test_identity import CAFE_NFD
from .conftest import Api, Service, chat, error_of, grant


@pytest.mark.parametrize("name", ["Acme", "acme ", "acme\u200b", "ａｃｍｅ", CAFE_NFD])
def test_a_lookalike_of_the_keys_tenant_is_not_found(service: Service, name: str) -> None:
    response = service.api("acme:service").post("/v1/decisions", json=chat(tenant=name))
    assert response.status_code == 404 and error_of(response)["field"] == "tenant"


@pytest.mark.parametrize(
    ("change", "field"), [({"subjects": ["bob", "bob "]}, "subjects.1"), ({"id": "r\u202e1"}, "id")]
)
def test_lookalike_subjects_and_ids_are_422_naming_the_field(
    service: Service, change: dict[str, Any], field: str
) -> None:
    response = service.api("acme:service").post("/v1/decisions", json=chat(**change))
    assert response.status_code == 422 and error_of(response)["message"].startswith(field)


def test_a_key_of_an_unassigned_tenant_is_denied_unknown_tenant(service: Service) -> None:
    token = create_key(service.store, "service", "initech")[1]
    response = service.api(None).as_(token).post("/v1/decisions", json=chat())
    assert response.status_code == 200 and response.json()["reasons"] == ["UNKNOWN_TENANT"]


def post_events(api: Api, raw: str, **params: Any) -> Any:
    return api.post(
        "/v1/consent/events",
        content=raw.encode(),
        params=params,
        headers={"content-type": "application/json"},
    )


def test_consent_events_are_read_strictly_and_all_or_nothing(service: Service) -> None:
    admin = service.api("acme:admin")
    duplicate = json.dumps({"events": [grant()]}).replace(
        '"subject": "alice"', '"subject": "mallory", "subject": "alice"'
    )
    response = post_events(admin, duplicate)
    assert (
        response.status_code == 422
        and error_of(response)["message"] == "body: duplicate key 'subject'"
    )
    response = post_events(admin, json.dumps({"events": [grant(tenant="ACME")]}))
    assert response.status_code == 422 and error_of(response)["message"].startswith(
        "body: events[0]: tenant 'ACME'"
    )
    response = post_events(admin, json.dumps({"events": [grant(), grant(tenant="globex")]}))
    assert response.status_code == 404 and error_of(response)["field"] == "events.1.tenant"
    assert service.store.consent_events() == []
    response = post_events(admin, json.dumps({"events": [grant()]}))
    assert response.status_code == 200 and response.json()["recorded"] == 1


def test_a_withdrawal_for_nobody_on_record_is_refused_unless_asked(service: Service) -> None:
    admin = service.api("acme:admin")
    withdraw = {**grant(role="self", subject="Alice", kind="withdraw")}
    withdraw.pop("mode")
    response = post_events(admin, json.dumps({"events": [withdraw]}))
    assert response.status_code == 422 and "allow_unmatched=true" in error_of(response)["message"]
    response = post_events(admin, json.dumps({"events": [withdraw]}), allow_unmatched="true")
    assert response.status_code == 200 and response.json()["recorded"] == 1


def test_a_body_over_the_limit_is_413_before_it_is_read(service: Service) -> None:
    response = service.api("acme:service").post(
        "/v1/decisions",
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413 and error_of(response)["code"] == "too_large"


@pytest.mark.parametrize(
    "raw",
    [
        '{"categories": ["customer.chat"], "use": "train.first_party", "collected_at": NaN}',
        '{"use": "\\ud800"}',
        "[1e999]",
        "{",
        '"x"',
    ],
)
def test_hostile_bodies_are_422_not_500(service: Service, raw: str) -> None:
    response = service.api("acme:service").post(
        "/v1/decisions", content=raw.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and error_of(response)["code"] == "invalid_request"


def test_a_batch_with_a_lone_surrogate_or_bad_time_is_422(service: Service) -> None:
    api = service.api("acme:service")
    records = {"id": ["\ud800"], "categories": [["customer.chat"]], "collected_at": ["2023-05-01"]}
    raw = json.dumps({"use": "train.first_party", "records": records})
    response = api.post(
        "/v1/decisions/batch", content=raw.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and "records.id" in error_of(response)["message"]
    records = {"id": ["a"], "categories": [["customer.chat"]], "collected_at": ["yesterday"]}
    response = api.post(
        "/v1/decisions/batch", json={"use": "train.first_party", "records": records}
    )
    assert response.status_code == 422, response.text


def test_an_uninitialized_store_is_503_not_ready(tmp_path: Path) -> None:
    application = Application(str(tmp_path / "none.db"), tmp_path / "r", tmp_path / "k")
    response = Api(create_app(application=application), None).get("/healthz")
    assert response.status_code == 503 and "not initialized" in error_of(response)["message"]
