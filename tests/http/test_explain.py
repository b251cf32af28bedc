"""Notices, a model's training summary and the auditor's report over HTTP: a
consent screen records what it showed and what was acknowledged; a tenant's key
reads its own tenant's part of a summary or report and nothing of another
tenant's; the operator reads them whole."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trainguard.explain.notices import build_notice
from trainguard.gate import run_gate

from .conftest import Service, chat, error_of

V2 = "meetco-terms@2023-08-07"


def notice_id(service: Service, audience: str = "participant") -> str:
    response = service.api("acme:auditor").get(f"/v1/policies/{V2}/notices/{audience}")
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def test_a_notice_is_rendered_as_json_html_or_text_with_the_id_the_terms_give_it(
    service: Service,
) -> None:
    api = service.api("globex:service")  # any key may read the terms
    version = service.store.policy_set().resolve(V2).version
    expected = build_notice(version, service.store.taxonomy(), "admin")
    as_json = api.get(f"/v1/policies/{V2}/notices/admin").json()
    assert (as_json["id"], as_json["hash"]) == (expected.id, expected.hash)
    html = api.get(f"/v1/policies/{V2}/notices/admin", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html") and expected.id in html.text
    assert "default-src 'none'" in html.headers["content-security-policy"]
    text = api.get(f"/v1/policies/{V2}/notices/admin", params={"format": "text"})
    assert text.headers["content-type"].startswith("text/plain") and expected.id in text.text
    for url, field in [
        (f"/v1/policies/{V2}/notices/everyone", "audience"),
        (f"/v1/policies/{V2}/notices/admin?format=pdf", "format"),
    ]:
        bad = api.get(url)
        assert bad.status_code == 422 and error_of(bad)["field"] == field


def test_served_then_acknowledged_each_an_audit_entry_and_listed(service: Service) -> None:
    nid = notice_id(service)
    screen = service.api("acme:service")  # the consent screen's key
    served = screen.post(f"/v1/notices/{nid}/served", json={"subject": "alice", "at": "2023-08-08"})
    assert served.status_code == 200, served.text
    assert served.json()["recorded"] is True and served.json()["tenant"] == "acme"
    entry = service.store.audit.entry(service.store.audit.size() - 1)["entry"]
    assert entry["kind"] == "notice.served" and entry["data"]["id"] == served.json()["id"]
    again = screen.post(f"/v1/notices/{nid}/served", json={"subject": "alice", "at": "2023-08-08"})
    assert again.json()["recorded"] is False and again.json()["id"] == served.json()["id"]
    acked = screen.post(
        f"/v1/notices/{nid}/acknowledged", json={"subject": "alice", "at": "2023-08-08T00:05Z"}
    )
    assert acked.status_code == 200 and acked.json()["kind"] == "acknowledged"
    listed = service.api("acme:auditor").get("/v1/notices/events", params={"subject": "alice"})
    assert [(e["kind"], e["notice_id"]) for e in listed.json()] == [
        ("served", nid),
        ("acknowledged", nid),
    ]
    assert listed.json()[0]["policy_version"] == service.store.policy_set().resolve(V2).hash


def test_an_acknowledgement_needs_the_notice_served_first(service: Service) -> None:
    nid = notice_id(service)
    screen = service.api("acme:admin")
    early = screen.post(f"/v1/notices/{nid}/acknowledged", json={"subject": "bob"})
    assert early.status_code == 409 and error_of(early)["code"] == "conflict"
    unknown = screen.post(
        "/v1/notices/ntc-000000000000000000000000/served", json={"subject": "bob"}
    )
    assert unknown.status_code == 404 and error_of(unknown)["field"] == "notice_id"
    for body, field in [
        ({"subject": "bob\u200b"}, "subject"),
        ({"subject": "bob", "at": "noon"}, "at"),
    ]:
        bad = screen.post(f"/v1/notices/{nid}/served", json=body)
        assert bad.status_code == 422 and error_of(bad)["message"].startswith(field), bad.text


ROLE_CASES = [
    # (key, method, url, expected status)
    ("acme:auditor", "POST", "/v1/notices/{nid}/served", 403),
    ("operator", "POST", "/v1/notices/{nid}/served", 403),
    ("acme:service", "GET", "/v1/notices/events", 403),
    ("operator", "GET", "/v1/notices/events", 403),
    ("acme:admin", "GET", "/v1/notices/events", 200),
    ("operator", "GET", f"/v1/policies/{V2}/notices/participant", 200),
]


def test_who_may_record_and_read_notice_events(service: Service) -> None:
    nid = notice_id(service)
    for who, method, url, status in ROLE_CASES:
        body = {"subject": "alice"} if method == "POST" else None
        response = service.api(who).request(method, url.format(nid=nid), json=body)
        assert response.status_code == status, (who, url, response.text)
        if status == 403:
            assert error_of(response)["code"] == "forbidden"


def test_another_tenants_notice_events_are_invisible_and_untouchable(service: Service) -> None:
    nid = notice_id(service)
    globex = service.api("globex:service")
    assert globex.post(f"/v1/notices/{nid}/served", json={"subject": "gina"}).status_code == 200
    acme = service.api("acme:admin")
    assert acme.get("/v1/notices/events").json() == []
    # Acknowledging globex's served notice with acme's key: as if never served.
    theirs = acme.post(f"/v1/notices/{nid}/acknowledged", json={"subject": "gina"})
    nobodys = acme.post(f"/v1/notices/{nid}/acknowledged", json={"subject": "nobody"})
    assert theirs.status_code == nobodys.status_code == 409
    assert "globex" not in error_of(theirs)["message"]
    for other in ("globex", "no-such-tenant"):
        response = acme.post(f"/v1/notices/{nid}/served", json={"subject": "gina", "tenant": other})
        assert response.status_code == 404 and error_of(response)["field"] == "tenant"
    assert [
        e["tenant"] for e in service.api("globex:auditor").get("/v1/notices/events").json()
    ] == ["globex"]


# --- summary and report -------------------------------------------------------------


@pytest.fixture
def model(service: Service, tmp_path: Path) -> str:
    """A model trained on 3 of acme's records and 2 of globex's (all kept out or not,
    as the terms say: what matters here is whose they are)."""
    source = tmp_path / "both.parquet"
    pq.write_table(
        pa.table(
            {
                "id": ["a1", "a2", "a3", "g1", "g2"],
                "tenant": ["acme"] * 3 + ["globex"] * 2,
                "category": ["service.telemetry"] * 3 + ["customer.chat"] * 2,
                "collected_at": [datetime(2023, 5, 1, tzinfo=UTC)] * 5,
                "text": ["x"] * 5,
            }
        ),
        source,
    )
    out = tmp_path / "gated"
    run_gate(
        service.store, [str(source)], "train.first_party", out, at=datetime(2023, 6, 1, tzinfo=UTC)
    )
    made = service.api("operator").post(
        "/v1/models", json={"name": "m-1", "manifests": [str(out)], "trained_at": "2023-06-02"}
    )
    assert made.status_code == 200, made.text
    return "m-1"


def considered(response: httpx.Response) -> int:
    body = response.json()
    return int(body["general_information"]["training_data_size"]["records_considered"])


def test_a_summary_counts_the_callers_part_of_the_model(service: Service, model: str) -> None:
    url = f"/v1/models/{model}/summary"
    whole = service.api("operator").get(url)
    assert whole.status_code == 200, whole.text
    assert considered(whole) == 5 and whole.json()["tenant"] is None
    assert considered(service.api("operator").get(url, params={"tenant": "globex"})) == 2
    assert considered(service.api("operator").get(url, params={"tenant": "initech"})) == 0
    acme = service.api("acme:auditor").get(url)
    assert considered(acme) == 3 and acme.json()["tenant"] == "acme"
    # Nothing of globex's: its customer.chat records appear nowhere in acme's part.
    assert "customer.chat" not in acme.text
    assert considered(service.api("globex:admin").get(url)) == 2
    page = service.api("acme:admin").get(url, params={"format": "html", "provider": "MeetCo"})
    assert page.headers["content-type"].startswith("text/html")
    assert "records of tenant acme only" in page.text and "MeetCo" in page.text


def test_a_summary_is_not_another_tenants_and_not_the_services(
    service: Service, model: str
) -> None:
    url = f"/v1/models/{model}/summary"
    theirs = service.api("acme:auditor").get(url, params={"tenant": "globex"})
    nobody = service.api("acme:auditor").get(url, params={"tenant": "no-such-tenant"})
    assert theirs.status_code == nobody.status_code == 404
    assert error_of(theirs) == error_of(nobody) and error_of(theirs)["field"] == "tenant"
    assert service.api("acme:service").get(url).status_code == 403
    missing = service.api("acme:auditor").get("/v1/models/no-such-model/summary")
    assert missing.status_code == 404 and error_of(missing)["field"] == "name"


def test_a_tenant_key_is_not_told_where_the_server_keeps_a_models_manifests(
    service: Service, model: str, tmp_path: Path
) -> None:
    """A manifest gone from the server is the operator's to see, path and all; a
    tenant's key is told only that it could not be read."""
    (tmp_path / "gated").rename(tmp_path / "moved")
    for url in (f"/v1/models/{model}/summary", "/v1/impact", f"/v1/impact?model={model}"):
        operator = service.api("operator").get(url)
        assert operator.status_code >= 400 and str(tmp_path) in operator.text, url
        tenant = service.api("acme:auditor").get(url)
        assert tenant.status_code == 500 and error_of(tenant)["code"] == "integrity", url
        assert str(tmp_path) not in tenant.text and "could not be read" in tenant.text, url


def tile(page: str, label: str) -> int:
    found = re.search(rf'<div class="tile"><b>([0-9,]+)</b><span>{label}</span>', page)
    assert found is not None, label
    return int(found.group(1).replace(",", ""))


def test_the_report_shows_a_tenant_key_only_what_is_about_its_tenant(
    service: Service, model: str
) -> None:
    service.api("acme:service").post("/v1/decisions", json=chat(id="acme-decision-1"))
    service.api("globex:service").post("/v1/decisions", json=chat(id="globex-decision-1"))
    whole = service.api("operator").get("/v1/audit/report")
    assert whole.status_code == 200 and whole.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in whole.headers["content-security-policy"]
    assert tile(whole.text, "decisions") == 2 and tile(whole.text, "gate runs") == 1
    mine = service.api("acme:auditor").get("/v1/audit/report")
    assert mine.status_code == 200, mine.text
    assert "Audit report for tenant acme" in mine.text and "globex" not in mine.text
    assert tile(mine.text, "decisions") == 1 and tile(mine.text, "gate runs") == 0
    assert "not part of a tenant's report" in mine.text
    assert (
        service.api("acme:auditor").get("/v1/audit/report", params={"tenant": "globex"}).status_code
        == 404
    )
    assert service.api("acme:service").get("/v1/audit/report").status_code == 403
