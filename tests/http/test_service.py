"""The service end to end, in process: the design's timeline decided over HTTP
and logged, consent appended and read back, terms, batches, proofs."""

from __future__ import annotations

from pathlib import Path

from trainguard.audit.note import Signer
from trainguard.verify import verify_proof

from .conftest import Service, chat, error_of, grant


def test_health_and_schema_need_no_key(service: Service) -> None:
    api = service.api(None)
    assert api.get("/healthz").json()["status"] == "ok"
    schema = api.get("/openapi.json").json()
    assert (
        "/v1/decisions" in schema["paths"]
        and "/v1/audit/proofs/inclusion/{index}" in schema["paths"]
    )


def test_the_timeline_over_http_each_decision_an_audit_entry(service: Service) -> None:
    admin, svc = service.api("acme:admin"), service.api("acme:service")
    assert admin.post("/v1/consent/events", json={"events": [grant()]}).json()["recorded"] == 1
    allowed = svc.post("/v1/decisions", json=chat(at="2023-08-09"))
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["allowed"] is True and allowed.json()["record"]["tenant"] == "acme"
    denied = svc.post("/v1/decisions", json=chat(at="2023-08-15")).json()
    assert denied["allowed"] is False and denied["reasons"] == ["DENIED_AT_USE"]
    logged = service.store.audit.entry(denied["audit_index"])
    assert logged["kind"] == "decision" and logged["entry"]["data"]["reasons"] == ["DENIED_AT_USE"]


def test_a_decision_names_no_tenant_or_its_own(service: Service) -> None:
    svc = service.api("acme:service")
    assert svc.post("/v1/decisions", json=chat(tenant="acme")).status_code == 200
    other = svc.post("/v1/decisions", json=chat(tenant="globex"))
    assert other.status_code == 404 and error_of(other)["field"] == "tenant"


def test_batch_decides_every_record_and_logs_their_root(service: Service) -> None:
    service.api("acme:admin").post("/v1/consent/events", json={"events": [grant()]})
    body = {
        "use": "train.first_party",
        "at": "2023-08-09",
        "records": {
            "id": ["a", "b", "c"],
            "categories": [["customer.chat"], ["customer.chat"], ["service.telemetry"]],
            "collected_at": ["2023-05-01", "2023-08-10", "2023-05-01"],
        },
    }
    out = service.api("acme:service").post("/v1/decisions/batch", json=body)
    assert out.status_code == 200, out.text
    result = out.json()
    assert [d["id"] for d in result["decisions"]] == ["a", "b", "c"]
    assert result["records"] == 3 and result["allowed"] + result["denied"] == 3
    logged = service.store.audit.entry(result["audit_index"])["entry"]["data"]
    assert logged["root"] == result["root"] and logged["tenant"] == "acme"


def test_batch_columns_of_different_lengths_are_refused(service: Service) -> None:
    body = {
        "use": "train.first_party",
        "records": {
            "id": ["a", "b"],
            "categories": [["customer.chat"]],
            "collected_at": ["2023-05-01", "2023-05-01"],
        },
    }
    out = service.api("acme:service").post("/v1/decisions/batch", json=body)
    assert out.status_code == 422 and "records.categories" in error_of(out)["message"]


def test_consent_listed_and_its_state_for_a_subject(service: Service) -> None:
    admin = service.api("acme:admin")
    self_grant = grant(subject="bob", role="self", categories=["customer.chat"], mode="explicit")
    admin.post("/v1/consent/events", json={"events": [grant(), self_grant]})
    events = admin.get("/v1/consent/events", params={"subject": "bob"}).json()
    assert [e["subject"] for e in events] == ["bob"]
    state = admin.get("/v1/consent/subjects/bob", params={"at": "2023-09-01T00:00:00Z"}).json()
    assert state["subject"] == "bob" and len(state["in_effect"]) == 1
    withdraw = {**self_grant, "kind": "withdraw", "at": "2023-08-20T00:00:00Z"}
    withdraw.pop("mode")
    assert admin.post("/v1/consent/events", json={"events": [withdraw]}).status_code == 200
    later = admin.get("/v1/consent/subjects/bob", params={"at": "2023-09-01T00:00:00Z"}).json()
    assert later["in_effect"] == [] and len(later["withdrawn"]) == 1


def test_terms_listed_shown_diffed_and_explained(service: Service) -> None:
    api = service.api("acme:auditor")
    versions = api.get("/v1/policies").json()
    assert [v["version"] for v in versions] == ["2023-03-31", "2023-08-07", "2023-08-11"]
    assert api.get("/v1/policies/meetco-terms@2023-08-11").json()["version"] == "2023-08-11"
    changes = api.get("/v1/policies/diff", params={"from": "2023-08-07", "to": "2023-08-11"}).json()
    assert changes and all(c["categories"] and c["uses"] for c in changes)
    assert api.get("/v1/policies/2023-08-11/notice").status_code == 200
    assert api.get("/v1/policies/nope").status_code == 404


def test_a_proof_fetched_over_http_verifies_offline(service: Service) -> None:
    decided = service.api("acme:service").post("/v1/decisions", json=chat()).json()
    signer = Signer.generate("trainguard.test")
    service.store.audit.checkpoint(signer)
    auditor = service.api("acme:auditor")
    note = auditor.get("/v1/audit/checkpoint").text
    proof = auditor.get(f"/v1/audit/proofs/inclusion/{decided['audit_index']}").json()
    assert verify_proof(signer.verifier, note, proof)  # raises IntegrityError if it does not hold
    size = service.store.audit.size()
    consistency = auditor.get("/v1/audit/proofs/consistency", params={"from": 1, "to": size})
    assert consistency.status_code == 200


def test_metrics_count_requests_by_route_and_decisions_by_outcome(service: Service) -> None:
    service.api("acme:service").post("/v1/decisions", json=chat())
    text = service.api(None).get("/metrics").text
    assert (
        'trainguard_http_requests_total{method="POST",route="/v1/decisions",status="200"} 1.0'
        in text
    )
    assert 'trainguard_decisions_total{outcome="denied"} 1.0' in text
    assert "trainguard_context_loads_total" in text
    assert "trainguard_journal_commits_total 1.0" in text
    assert "trainguard_journal_entries_total 1.0" in text


def test_the_operator_changes_the_terms_and_decisions_follow_at_once(
    service: Service, policy_files: dict[str, Path]
) -> None:
    operator, svc = service.api("operator"), service.api("globex:service")
    assert svc.post("/v1/decisions", json=chat()).json()["reasons"] == ["CONSENT_MISSING"]
    yaml_text = policy_files["v4"].read_text()
    assert (
        service.api("acme:admin").post("/v1/policies", json={"yaml": yaml_text}).status_code == 403
    )
    added = operator.post("/v1/policies", json={"yaml": yaml_text, "source": "v4.yaml"})
    assert added.status_code == 200 and added.json()["added"] is True
    assert "2023-08-11" in [v["version"] for v in svc.get("/v1/policies").json()]
    loads = service.application.contexts.loads
    other = {"yaml": yaml_text.replace("meetco-terms", "other-terms"), "source": "other.yaml"}
    assert operator.post("/v1/policies", json=other).status_code == 200
    assert (
        operator.put("/v1/tenants/globex/family", json={"family": "other-terms"}).status_code == 200
    )
    decided = svc.post("/v1/decisions", json=chat()).json()
    assert decided["reasons"] == [
        "NO_POLICY_IN_FORCE"
    ]  # the other family starts after the content was collected
    assert (
        service.application.contexts.loads > loads
    )  # a change of terms rebuilt the cached context
