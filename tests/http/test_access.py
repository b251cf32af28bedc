"""Keys, roles and tenant isolation: a key for one tenant can never read, list,
infer the existence of, or change another tenant's consent, registry,
decisions, scans or audit entries — those are answered as missing (404), not
forbidden; a role lacking a permission on its own tenant is 403."""

from __future__ import annotations

import json

import pytest

from trainguard.app import revoke_key

from .conftest import Service, chat, error_of, grant


@pytest.mark.parametrize(
    "header",
    [None, "Bearer nonsense", "Bearer tgk_0123456789abcdef_" + "A" * 43, "Basic dXNlcjpwdw=="],
)
def test_no_key_or_a_bad_one_is_401(service: Service, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    for method, url in [
        ("POST", "/v1/decisions"),
        ("GET", "/v1/consent/events"),
        ("GET", "/v1/audit/checkpoint"),
        ("GET", "/v1/policies"),
    ]:
        response = service.api(None).request(method, url, headers=headers, json=chat())
        assert response.status_code == 401 and error_of(response)["code"] == "unauthenticated"
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_key_with_a_wrong_secret_is_401(service: Service) -> None:
    token = service.tokens["acme:service"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert service.api(None).as_(forged).post("/v1/decisions", json=chat()).status_code == 401


def test_a_revoked_key_is_refused_from_the_next_request(service: Service) -> None:
    api = service.api("acme:service")
    assert api.post("/v1/decisions", json=chat()).status_code == 200
    key_id = service.tokens["acme:service"].split("_")[1]
    revoke_key(service.store, key_id)  # as `trainguard apikey revoke` would, from anywhere
    assert api.post("/v1/decisions", json=chat()).status_code == 401


def test_keys_are_stored_hashed_and_logged_without_their_secret(service: Service) -> None:
    secret = service.tokens["acme:admin"].split("_", 2)[2]
    with service.store.read() as conn:
        rows = [tuple(r) for r in conn.exec_driver_sql("SELECT * FROM tg_api_keys")]
    assert rows and all(secret not in str(r) for r in rows)
    size = service.store.audit.size()
    entries = [service.store.audit.entry(i) for i in range(size)]
    created = [e for e in entries if e["kind"] == "apikey.created"]
    assert len(created) == 7 and all(secret not in json.dumps(e) for e in entries)


ROLE_CASES = [
    # (key, method, url, body, expected status)
    ("acme:auditor", "POST", "/v1/decisions", chat(), 403),
    ("operator", "POST", "/v1/decisions", chat(), 403),
    ("acme:service", "POST", "/v1/consent/events", {"events": [grant()]}, 403),
    ("acme:auditor", "POST", "/v1/consent/events", {"events": [grant()]}, 403),
    ("acme:service", "GET", "/v1/consent/events", None, 403),
    ("acme:auditor", "GET", "/v1/consent/events", None, 200),
    ("acme:auditor", "POST", "/v1/registry/items", {"items": [{"id": "x", "text": "hello"}]}, 403),
    ("acme:admin", "PUT", "/v1/tenants/acme/family", {"family": "meetco-terms"}, 403),
    ("operator", "PUT", "/v1/tenants/acme/family", {"family": "meetco-terms"}, 200),
    ("acme:admin", "GET", "/v1/models", None, 403),
    ("operator", "GET", "/v1/models", None, 200),
    ("acme:auditor", "POST", "/v1/scans", {"documents": [{"id": "d", "text": "x"}]}, 403),
    ("acme:admin", "POST", "/v1/scans", {"paths": ["/"]}, 403),
    ("operator", "GET", "/v1/consent/events", None, 403),
    ("acme:auditor", "GET", "/v1/policies", None, 200),
]


@pytest.mark.parametrize(("who", "method", "url", "body", "status"), ROLE_CASES)
def test_each_role_may_do_what_it_is_for_and_nothing_else(
    service: Service, who: str, method: str, url: str, body: object, status: int
) -> None:
    response = (
        service.api(who).request(method, url, json=body)
        if body is not None
        else service.api(who).request(method, url)
    )
    assert response.status_code == status, response.text
    if status == 403:
        assert error_of(response)["code"] == "forbidden"


def test_another_tenants_consent_is_invisible(service: Service) -> None:
    service.api("globex:admin").post(
        "/v1/consent/events", json={"events": [grant(tenant="globex", subject="gina")]}
    )
    acme = service.api("acme:admin")
    assert acme.get("/v1/consent/events").json() == []
    assert acme.get("/v1/consent/subjects/gina").json()["in_effect"] == []
    # Writing into globex with acme's key: not found, whether globex exists or not.
    for other in ("globex", "no-such-tenant"):
        response = acme.post("/v1/consent/events", json={"events": [grant(tenant=other)]})
        assert (
            response.status_code == 404
            and error_of(response)["message"] == "events.0.tenant: no such tenant for this key"
        )


def test_another_tenants_consent_never_decides_for_this_one(service: Service) -> None:
    service.api("globex:admin").post(
        "/v1/consent/events", json={"events": [grant(tenant="globex")]}
    )
    decided = service.api("acme:service").post("/v1/decisions", json=chat()).json()
    assert decided["allowed"] is False and decided["reasons"] == ["CONSENT_MISSING"]


def test_audit_entries_are_readable_only_by_their_tenant_and_the_operator(service: Service) -> None:
    globex = service.api("globex:service").post("/v1/decisions", json=chat()).json()["audit_index"]
    acme = service.api("acme:service").post("/v1/decisions", json=chat()).json()["audit_index"]
    auditor = service.api("acme:auditor")
    assert auditor.get(f"/v1/audit/entries/{acme}").status_code == 200
    hidden = auditor.get(f"/v1/audit/entries/{globex}")
    missing = auditor.get("/v1/audit/entries/999999")
    assert hidden.status_code == missing.status_code == 404
    assert error_of(hidden)["message"] == f"audit entry {globex} does not exist"
    assert auditor.get(f"/v1/audit/proofs/inclusion/{globex}").status_code == 404
    assert auditor.get("/v1/audit/entries/0").status_code == 404  # a platform entry (policy.added)
    operator = service.api("operator")
    assert (
        operator.get(f"/v1/audit/entries/{globex}").json()["entry"]["data"]["record"]["tenant"]
        == "globex"
    )
    assert operator.get(f"/v1/audit/proofs/inclusion/{globex}").status_code == 200


def test_another_tenants_registry_items_are_invisible_and_untouchable(service: Service) -> None:
    text = " ".join(f"word{i}" for i in range(40))
    added = service.api("globex:admin").post(
        "/v1/registry/items", json={"items": [{"id": "g-1", "text": text}]}
    )
    assert added.status_code == 200 and added.json()["added"] == 1
    acme = service.api("acme:admin")
    assert acme.get("/v1/registry/items").json() == []
    removed = acme.delete("/v1/registry/items/g-1")
    assert removed.status_code == 404 and error_of(removed)["message"] == error_of(
        acme.delete("/v1/registry/items/nothing")
    )["message"].replace("nothing", "g-1")
    assert [i["id"] for i in service.api("globex:auditor").get("/v1/registry/items").json()] == [
        "g-1"
    ]


def test_another_tenants_scans_are_not_found(service: Service) -> None:
    text = " ".join(f"word{i}" for i in range(40))
    service.api("globex:admin").post(
        "/v1/registry/items", json={"items": [{"id": "g-1", "text": text}]}
    )
    job = service.api("globex:service").post(
        "/v1/scans", json={"documents": [{"id": "d", "text": text}]}
    )
    assert job.status_code == 202
    scan_id = job.json()["id"]
    acme = service.api("acme:auditor")
    for url in (f"/v1/scans/{scan_id}", f"/v1/scans/{scan_id}/findings"):
        response = acme.get(url)
        assert response.status_code == 404 and error_of(response)["field"] == "scan_id"


def test_a_scan_reports_only_the_submitting_tenants_content(service: Service) -> None:
    acme_text = " ".join(f"alpha{i}" for i in range(40))
    globex_text = " ".join(f"gamma{i}" for i in range(40))
    service.api("acme:admin").post(
        "/v1/registry/items", json={"items": [{"id": "a-1", "text": acme_text}]}
    )
    service.api("globex:admin").post(
        "/v1/registry/items", json={"items": [{"id": "g-1", "text": globex_text}]}
    )
    pasted = f"first {acme_text}. Then {globex_text}."
    for who, mine in (("acme:service", "a-1"), ("globex:service", "g-1")):
        api = service.api(who)
        job = api.post("/v1/scans", json={"documents": [{"id": "post", "text": pasted}]}).json()
        service.application.scans.wait_idle()
        assert api.get(f"/v1/scans/{job['id']}").json()["status"] == "done"
        [finding] = api.get(f"/v1/scans/{job['id']}/findings").json()["findings"]
        assert finding["doc_id"] == "post"
        assert {i for s in finding["spans"] for i in s["items"]} == {mine}
        assert {t for s in finding["spans"] for t in s["tenants"]} == {who.split(":")[0]}
