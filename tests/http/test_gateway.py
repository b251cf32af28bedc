"""The gateway's routes: the service's keys and roles, tenant isolation, and the
one error shape for everything a client can get wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainguard.gateway import InMemoryAcl, load_providers
from trainguard.http.gateway import configure

from ..gateway.conftest import (
    PHISHING,
    channel_record,
    enable_ai_features,
    private_record,
    transcript_record,
)
from .conftest import Service, error_of

pytest.importorskip("wordllama", reason="the AI features need the gateway extra")


@pytest.fixture
def gateway(service: Service, tmp_path: Path) -> Service:
    enable_ai_features(service.store)
    acl = InMemoryAcl()
    acl.allow("acme", "meeting:meeting-1", ["alice"])
    acl.allow("acme", "channel:general", ["*"])
    acl.allow("acme", "meeting:board", ["bob"])
    providers = tmp_path / "providers.yaml"
    providers.write_text(
        "providers:\n  local: {third_party: false, zero_retention: true}\n"
        "  keeps: {third_party: true, zero_retention: false}\ntenants:\n  acme: [local, keeps]\n"
    )
    configure(service.app, acl, load_providers(providers))
    return service


def body(**fields: object) -> dict[str, object]:
    return {
        "user": "alice",
        "records": [transcript_record(), channel_record(), private_record()],
        **fields,
    }


def test_a_service_key_gets_a_cited_summary_of_what_its_user_may_see(gateway: Service) -> None:
    r = gateway.api("acme:service").post("/v1/gateway/summary", json=body())
    assert r.status_code == 200, r.text
    out = r.json()
    assert {c["source"] for c in out["citations"]} == {"meeting-1/transcript", "general/msg-17"}
    assert PHISHING not in out["text"] and PHISHING not in out["html"]
    assert out["record"]["categories"] == ["customer.ai_output"]
    entry = gateway.api("acme:auditor").get(f"/v1/audit/entries/{out['audit_index']}").json()
    assert entry["entry"]["kind"] == "gateway.request"


def test_a_question_is_answered_from_visible_records_only(gateway: Service) -> None:
    r = gateway.api("acme:service").post(
        "/v1/gateway/question", json=body(question="When does the acquisition of Globex close?")
    )
    assert r.status_code == 200, r.text
    assert "Globex" not in str(r.json()["points"])


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        (None, 401, "unauthenticated"),
        ("acme:auditor", 403, "forbidden"),
        ("operator", 403, "forbidden"),
    ],
)
def test_only_the_tenants_service_and_admin_keys_may_ask(
    gateway: Service, who: str | None, status: int, code: str
) -> None:
    r = gateway.api(who).post("/v1/gateway/summary", json=body())
    assert r.status_code == status and error_of(r)["code"] == code


def test_another_tenants_records_cannot_be_asked_for(gateway: Service) -> None:
    r = gateway.api("globex:service").post("/v1/gateway/summary", json=body(tenant="acme"))
    assert r.status_code == 404 and error_of(r)["field"] == "tenant"
    # Without naming one, globex's key asks for globex, whose allowlist is not acme's.
    r = gateway.api("globex:service").post("/v1/gateway/summary", json=body())
    assert r.status_code == 422 and "tenant globex's allowlist" in error_of(r)["message"]


@pytest.mark.parametrize(
    ("fields", "status", "code", "field"),
    [
        ({"provider": "keeps", "purpose": "infer.third_party"}, 422, "invalid_input", "provider"),
        ({"provider": "unknown"}, 422, "invalid_input", "provider"),
        ({"purpose": "train.first_party"}, 422, "invalid_input", None),
        ({"user": "Alice "}, 422, "invalid_input", None),
        ({"records": [{**transcript_record(), "text": "both"}]}, 422, "invalid_input", None),
        (
            {"records": [{**transcript_record(), "collected_at": "yesterday"}]},
            422,
            "invalid_input",
            None,
        ),
        ({"records": [transcript_record(), transcript_record()]}, 422, "invalid_input", None),
        ({"records": [{"id": "x"}]}, 422, "invalid_request", "records.0.categories"),
        ({"secret": 1}, 422, "invalid_request", "secret"),
        ({"at": "2023-08-13"}, 422, "invalid_request", "at"),  # always decided now
    ],
)
def test_bad_requests_are_one_line_in_the_one_error_shape(
    gateway: Service, fields: dict[str, object], status: int, code: str, field: str | None
) -> None:
    size = gateway.store.audit.size()
    r = gateway.api("acme:service").post("/v1/gateway/summary", json=body(**fields))
    assert r.status_code == status, r.text
    error = error_of(r)
    assert error["code"] == code and error["field"] == field, error
    assert gateway.store.audit.size() == size  # nothing logged for a refused request


def test_a_question_needs_a_question(gateway: Service) -> None:
    r = gateway.api("acme:service").post("/v1/gateway/question", json=body())
    assert r.status_code == 422 and error_of(r)["field"] == "question"


def test_a_service_without_an_access_check_refuses_every_request(service: Service) -> None:
    enable_ai_features(service.store)
    r = service.api("acme:service").post("/v1/gateway/summary", json=body())
    assert r.status_code == 503 and "no access check" in error_of(r)["message"]
