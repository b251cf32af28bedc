"""The gateway end to end, in process: what reaches a feature, and what comes out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from trainguard.app.gateway import GATEWAY_REQUEST, NoAccessCheck, serve_feature
from trainguard.decision.consent import ConsentEvent
from trainguard.decision.decide import Record, decide
from trainguard.gateway import (
    CallableAccess,
    GatewayRequest,
    InMemoryAcl,
    ProviderRefused,
    Providers,
    load_providers,
)
from trainguard.gateway import core as gateway_core
from trainguard.gateway.untrusted import urls_in
from trainguard.store import Store

from .conftest import (
    AT,
    PHISHING,
    PRIVATE_SECRET,
    channel_record,
    private_record,
    t,
    transcript_record,
)


def ask(
    store: Store,
    access: Any,
    records: list[dict[str, Any]],
    *,
    user: str = "alice",
    feature: str = "summary",
    question: str | None = None,
    provider: str = "local",
    purpose: str = "infer.feature",
    providers: Providers | None = None,
) -> dict[str, Any]:
    request = GatewayRequest("acme", user, feature, purpose, provider)
    return serve_feature(
        store.context(),
        store.audit.record,
        access,
        providers or Providers(),
        request,
        records,
        question,
        AT,
    )


@pytest.fixture
def fed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of every source the features are handed."""
    seen: list[str] = []
    real = gateway_core.summarize, gateway_core.answer

    def summarize(sources: Any, *a: Any) -> Any:
        seen.extend(s.id for s in sources)
        return real[0](sources, *a)

    def answer(sources: Any, *a: Any) -> Any:
        seen.extend(s.id for s in sources)
        return real[1](sources, *a)

    monkeypatch.setattr(gateway_core, "summarize", summarize)
    monkeypatch.setattr(gateway_core, "answer", answer)
    return seen


def test_an_injected_instruction_with_a_phishing_link_is_cited_never_obeyed(
    ai_store: Store, acl: InMemoryAcl
) -> None:
    out = ask(ai_store, acl, [transcript_record(), channel_record()])
    shown = json.dumps({k: out[k] for k in ("text", "html", "points")})
    assert PHISHING not in shown and "meetco-support" not in shown
    assert urls_in(out["text"]) == [] and "href" not in out["html"] and "<img" not in out["html"]
    cited = {c["source"]: c for c in out["citations"]}
    assert set(cited) == {
        "meeting-1/transcript",
        "general/msg-17",
    }  # both sources, the injected one too
    assert cited["general/msg-17"]["holds_instruction_like_text"] is True
    assert cited["general/msg-17"]["segments_quoted"] == []  # quoted nowhere, so never followed
    assert out["points"] and all(p["source"] == "meeting-1/transcript" for p in out["points"])


def test_a_phishing_link_in_a_quoted_message_is_removed_and_the_message_cited(
    ai_store: Store, acl: InMemoryAcl
) -> None:
    message = {
        **channel_record(),
        "text": f"The password reset page for the new remote control portal is {PHISHING} as announced",
    }
    out = ask(
        ai_store,
        acl,
        [transcript_record(), message],
        feature="question",
        question="Where is the password reset page for the remote control portal?",
    )
    quoted = [p for p in out["points"] if p["source"] == "general/msg-17"]
    assert quoted, "the message answers the question"
    assert "[link removed]" in quoted[0]["text"]
    assert PHISHING not in json.dumps(out) and urls_in(out["text"]) == []
    assert {c["source"] for c in out["citations"]} == {"meeting-1/transcript", "general/msg-17"}


def test_a_user_without_access_to_a_private_meeting_gets_nothing_from_it(
    ai_store: Store, acl: InMemoryAcl, fed: list[str]
) -> None:
    records = [transcript_record(), private_record()]
    out = ask(
        ai_store,
        acl,
        records,
        feature="question",
        question="When does the acquisition of Globex close?",
    )
    assert "board/transcript" not in fed
    assert "Globex" not in json.dumps(
        {k: out[k] for k in ("text", "html", "points", "citations", "record")}
    )
    row = next(d for d in out["decisions"] if d["id"] == "board/transcript")
    assert row == {
        "id": "board/transcript",
        "allowed": True,
        "reasons": ["ALLOWED"],
        "visible": False,
        "used": False,
    }
    # Bob, who was in the meeting, gets it; and loses it the moment the platform says so.
    bob = ask(
        ai_store,
        acl,
        records,
        user="bob",
        feature="question",
        question="When does the acquisition of Globex close?",
    )
    assert PRIVATE_SECRET in [p["text"] for p in bob["points"]]
    acl.revoke("acme", "meeting:board", "bob")
    again = ask(
        ai_store,
        acl,
        records,
        user="bob",
        feature="question",
        question="When does the acquisition of Globex close?",
    )
    assert "Globex" not in json.dumps(again["points"])


def test_a_withdrawn_or_denied_record_never_reaches_the_feature(
    ai_store: Store, acl: InMemoryAcl, fed: list[str]
) -> None:
    unknown = {**channel_record(), "id": "general/msg-18", "categories": ["customer.hologram"]}
    out = ask(ai_store, acl, [transcript_record(), unknown])
    assert fed == ["meeting-1/transcript"]
    assert next(d for d in out["decisions"] if d["id"] == "general/msg-18")["reasons"] == [
        "UNKNOWN_CATEGORY"
    ]
    # The admin turns AI features off: from then on nothing reaches a feature.
    v3 = ai_store.policy_set().resolve("meetco-terms@2023-08-11").hash
    ai_store.add_consent_events([ConsentEvent(
        tenant="acme", kind="withdraw", subject="root-admin", role="account_admin",
        categories=("customer.*",), uses=("infer.feature",), policy_version=v3, at=t("2023-08-30T00:00:00Z"),
    )])  # fmt: skip
    fed.clear()
    out = ask(ai_store, acl, [transcript_record(), channel_record()])
    assert fed == [] and out["points"] == [] and out["citations"] == []
    assert {tuple(d["reasons"]) for d in out["decisions"]} == {("CONSENT_WITHDRAWN",)}


def test_records_the_terms_deny_are_not_even_shown_to_the_access_check(ai_store: Store) -> None:
    asked: list[str] = []

    def check(tenant: str, user: str, record_id: str, container: str) -> bool:
        asked.append(record_id)
        return True

    unknown = {**channel_record(), "categories": ["customer.hologram"]}
    ask(ai_store, CallableAccess(check), [transcript_record(), unknown])
    assert asked == ["meeting-1/transcript"]


def test_a_third_party_provider_without_zero_retention_is_refused_before_any_record_is_read(
    ai_store: Store, tmp_path: Any, fed: list[str]
) -> None:
    path = tmp_path / "providers.yaml"
    path.write_text(
        "providers:\n  local: {third_party: false, zero_retention: true}\n"
        "  keeps-inputs: {third_party: true, zero_retention: false}\n"
        "  forgets: {third_party: true, zero_retention: true}\n"
        "tenants:\n  acme: [local, keeps-inputs, forgets]\n"
    )
    providers = load_providers(path)
    asked: list[str] = []
    access = CallableAccess(lambda *a: asked.append(a[2]) is None)
    size = ai_store.audit.size()
    with pytest.raises(ProviderRefused, match="keeps-inputs.*zero retention"):
        ask(
            ai_store,
            access,
            [transcript_record()],
            provider="keeps-inputs",
            purpose="infer.third_party",
            providers=providers,
        )
    with pytest.raises(ProviderRefused, match="third party: ask with purpose infer.third_party"):
        ask(ai_store, access, [transcript_record()], provider="forgets", providers=providers)
    with pytest.raises(ProviderRefused, match="not on tenant acme's allowlist"):
        ask(ai_store, access, [transcript_record()], provider="someone-else", providers=providers)
    assert fed == [] and asked == [] and ai_store.audit.size() == size
    # A zero-retention third party passes the provider check; the terms then decide
    # (v3 does not allow customer content to go to third parties).
    out = ask(
        ai_store,
        access,
        [transcript_record()],
        provider="forgets",
        purpose="infer.third_party",
        providers=providers,
    )
    assert "DENIED_AT_USE" in out["decisions"][0]["reasons"] and fed == []


def test_without_an_access_check_nothing_is_shown(ai_store: Store) -> None:
    with pytest.raises(NoAccessCheck, match="no access check"):
        ask(ai_store, None, [transcript_record()])


def test_the_output_is_customer_content_derived_from_what_it_used(
    ai_store: Store, acl: InMemoryAcl
) -> None:
    out = ask(ai_store, acl, [transcript_record(), channel_record(), private_record()])
    record = out["record"]
    assert record["categories"] == ["customer.ai_output"]
    assert record["derived_from"] == ["meeting-1/transcript", "general/msg-17"]
    as_record = Record(record["id"], "acme", tuple(record["categories"]), t(record["collected_at"]))
    assert not decide(ai_store.context(), as_record, "train.first_party", t(AT)).allowed


def test_the_audit_entry_holds_ids_decisions_and_commitments_only(
    ai_store: Store, acl: InMemoryAcl
) -> None:
    import hashlib
    import hmac

    from trainguard.canonical import canonical_json

    out = ask(
        ai_store,
        acl,
        [transcript_record(), channel_record()],
        feature="question",
        question="What is the budget?",
    )
    entry = ai_store.audit.entry(out["audit_index"])["entry"]
    assert entry["kind"] == GATEWAY_REQUEST
    data = entry["data"]
    assert set(data) == {
        "tenant",
        "user",
        "feature",
        "purpose",
        "provider",
        "at",
        "output_id",
        "records",
        "decisions_sha256",
        "output_commitment",
        "question_commitment",
    }
    assert [r["id"] for r in data["records"]] == ["meeting-1/transcript", "general/msg-17"]
    # The caller, holding the key it was given, can show which question was asked.
    key = bytes.fromhex(out["commitment_key"])
    assert (
        data["question_commitment"]
        == hmac.new(key, b"What is the budget?", hashlib.sha256).hexdigest()
    )
    shown = {k: out[k] for k in ("feature", "text", "html", "points", "citations")}
    assert (
        data["output_commitment"]
        == hmac.new(key, canonical_json(shown), hashlib.sha256).hexdigest()
    )
