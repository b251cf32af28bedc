"""Over HTTP as on the command line: look-alike identities are 422 with one line,
unassigned tenants are denied UNKNOWN_TENANT, and consent events are read strictly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from trainguard.server import create_app
from trainguard.store import Store

from .test_identity import CAFE_NFD
from .test_server import chat, db  # noqa: F401 (the fixture: acme assigned, alice's grant)


@pytest.fixture
def client(db: Path, tmp_path: Path) -> TestClient:  # noqa: F811
    return TestClient(create_app(str(db), tmp_path / "registry", tmp_path / "keys"))


@pytest.mark.parametrize("name", ["Acme", "acme ", "acme\u200b", "ａｃｍｅ", "acme\x00", CAFE_NFD])
def test_a_lookalike_tenant_is_422_with_one_line(client: TestClient, name: str) -> None:
    response = client.post("/v1/decisions", json={**chat("2023-08-09"), "tenant": name})
    assert response.status_code == 422
    error = response.json()["error"]
    # NUL is refused by the request schema, naming the field; the rest by the identity rules.
    assert error["code"] in ("invalid_identity", "invalid_request")
    assert error["message"].startswith("tenant") and "\n" not in error["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"subjects": ["bob", "bob "]}, "subjects[1] 'bob '"), ({"id": "r\u202e1"}, "id 'r")],
)
def test_lookalike_subjects_and_ids_are_422(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/decisions", json={**chat("2023-08-09"), **change})
    assert response.status_code == 422 and response.json()["error"]["message"].startswith(field)


def test_an_unassigned_tenant_is_denied_unknown_tenant(client: TestClient) -> None:
    response = client.post("/v1/decisions", json={**chat("2023-08-09"), "tenant": "globex"})
    assert response.status_code == 200
    assert response.json()["reasons"] == ["UNKNOWN_TENANT"]


def event(**changes: Any) -> dict[str, Any]:
    body = {"tenant": "acme", "kind": "withdraw", "subject": "alice", "role": "account_admin",
            "categories": ["customer.*"], "uses": ["train.*"],
            "policy_version": "meetco-terms@2023-08-07", "at": "2023-08-09T00:00:00Z"}  # fmt: skip
    body.update(changes)
    return body


def post_events(client: TestClient, raw: str, **params: Any) -> Any:
    return client.post(
        "/v1/consent/events",
        content=raw.encode(),
        params=params,
        headers={"content-type": "application/json"},
    )


def test_consent_events_are_recorded_and_read_strictly(client: TestClient, db: Path) -> None:  # noqa: F811
    before = len(Store(str(db)).consent_events())
    duplicate = json.dumps({"events": [event()]}).replace(
        '"subject": "alice"', '"subject": "mallory", "subject": "alice"'
    )
    response = post_events(client, duplicate)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "body: duplicate key 'subject'"
    response = post_events(client, json.dumps({"events": [event(tenant="ACME")]}))
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("body: events[0]: tenant 'ACME'")
    response = post_events(client, json.dumps({"events": [event(notice_id="n\x00")]}))
    assert response.status_code == 400 and "U+0000" in response.json()["error"]["message"]
    assert len(Store(str(db)).consent_events()) == before
    response = post_events(client, json.dumps({"events": [event()]}))
    assert response.status_code == 200, response.text
    assert response.json()["recorded"] == 1 and response.json()["already_on_record"] == 0


def test_a_withdrawal_for_nobody_on_record_is_refused(client: TestClient) -> None:
    response = post_events(client, json.dumps({"events": [event(role="self", subject="Alice")]}))
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "the closest subject on record is 'alice'" in message
    assert "?allow_unmatched=true" in message
    response = post_events(
        client, json.dumps({"events": [event(role="self", subject="Alice")]}), allow_unmatched=True
    )
    assert response.status_code == 200 and response.json()["recorded"] == 1
