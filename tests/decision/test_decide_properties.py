"""Property tests on random policies, records and ledgers."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainguard.decision import batch
from trainguard.decision.batch import decide_batch, decide_codes
from trainguard.decision.consent import ConsentEvent, Ledger
from trainguard.decision.decide import DecisionContext, PolicySet, Record, decide
from trainguard.decision.policy import PolicyVersion, Rule
from trainguard.decision.taxonomy import BUILTIN_CATEGORIES, BUILTIN_USES
from trainguard.errors import InputError

CATS = sorted(BUILTIN_CATEGORIES)
USES = sorted(BUILTIN_USES)
CAT_PATTERNS = [*CATS, "customer.*", "service.*", "external.*", "*"]
USE_PATTERNS = [*USES, "train.*", "infer.*", "*"]
BASE = datetime(2023, 1, 1, tzinfo=UTC)
SUBJECTS = ["ann", "ben", "cat", "dan"]
FAMILY = "fam"


@st.composite
def rules(draw: st.DrawFn, prefix: str = "r") -> list[Rule]:
    out = []
    for i in range(draw(st.integers(0, 6))):
        effect = draw(st.sampled_from(["allow", "deny", "require_consent"]))
        consent = None
        if effect == "require_consent":
            consent = {
                "from": draw(st.sampled_from(["account_admin", "every_subject"])),
                "mode": draw(st.sampled_from(["explicit", "any"])),
            }
        out.append(
            Rule.model_validate(
                {
                    "id": f"{prefix}{i}",
                    "categories": draw(
                        st.lists(st.sampled_from(CAT_PATTERNS), min_size=1, max_size=3)
                    ),
                    "uses": draw(st.lists(st.sampled_from(USE_PATTERNS), min_size=1, max_size=3)),
                    "effect": effect,
                    "consent": consent,
                }
            )
        )
    return out


@st.composite
def versions(draw: st.DrawFn) -> list[PolicyVersion]:
    n = draw(st.integers(1, 3))
    days = sorted(draw(st.lists(st.integers(0, 300), min_size=n, max_size=n, unique=True)))
    return [
        PolicyVersion(
            family=FAMILY,
            version=f"v{i}",
            effective_at=BASE + timedelta(days=d),
            default=draw(st.sampled_from(["allow", "deny"])),
            rules=tuple(draw(rules())),
        )
        for i, d in enumerate(days)
    ]


@st.composite
def ledgers(draw: st.DrawFn, vs: list[PolicyVersion]) -> list[ConsentEvent]:
    events = []
    for _ in range(draw(st.integers(0, 6))):
        role = draw(st.sampled_from(["account_admin", "self"]))
        kind = draw(st.sampled_from(["grant", "grant", "withdraw"]))
        events.append(
            ConsentEvent(
                tenant="t1",
                kind=kind,
                subject=draw(st.sampled_from(["admin", *SUBJECTS])) if role == "self" else "admin",
                role=role,
                categories=tuple(
                    draw(st.lists(st.sampled_from(CAT_PATTERNS), min_size=1, max_size=2))
                ),
                uses=tuple(draw(st.lists(st.sampled_from(USE_PATTERNS), min_size=1, max_size=2))),
                mode=draw(st.sampled_from(["explicit", "implied"])) if kind == "grant" else None,
                policy_version=draw(st.sampled_from(vs)).content_hash,
                at=BASE + timedelta(days=draw(st.integers(0, 400))),
            )
        )
    return events


@st.composite
def records(draw: st.DrawFn) -> Record:
    return Record(
        id=f"r{draw(st.integers(0, 10**6))}",
        tenant="t1",
        categories=tuple(draw(st.lists(st.sampled_from(CATS), min_size=1, max_size=2))),
        collected_at=BASE + timedelta(days=draw(st.integers(-20, 400))),
        subjects=tuple(draw(st.lists(st.sampled_from(SUBJECTS), max_size=3))),
    )


def ctx_for(
    vs: list[PolicyVersion],
    events: list[ConsentEvent] = (),  # type: ignore[assignment]
    default: str | None = FAMILY,
    assigned: dict[str, str] | None = None,
) -> DecisionContext:
    ps = PolicySet(vs, default_family=default, tenant_families=assigned or {})
    return DecisionContext(ps, Ledger(events))


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(data=st.data())
def test_adding_a_deny_rule_never_turns_a_deny_into_an_allow(data: st.DataObject) -> None:
    vs = data.draw(versions())
    events = data.draw(ledgers(vs))
    rec = data.draw(records())
    use = data.draw(st.sampled_from(USES))
    at = BASE + timedelta(days=data.draw(st.integers(0, 500)))
    before = decide(ctx_for(vs, events), rec, use, at)
    i = data.draw(st.integers(0, len(vs) - 1))
    extra = Rule(
        id="zz-extra-deny",
        categories=tuple(
            data.draw(st.lists(st.sampled_from(CAT_PATTERNS), min_size=1, max_size=2))
        ),
        uses=tuple(data.draw(st.lists(st.sampled_from(USE_PATTERNS), min_size=1, max_size=2))),
        effect="deny",
    )
    stricter = list(vs)
    stricter[i] = vs[i].model_copy(update={"rules": (*vs[i].rules, extra)})
    # Consents keep pointing at the same logical versions (by position).
    remap = {v.content_hash: s.content_hash for v, s in zip(vs, stricter, strict=True)}
    events2 = [e.model_copy(update={"policy_version": remap[e.policy_version]}) for e in events]
    after = decide(ctx_for(stricter, events2), rec, use, at)
    if not before.allowed:
        assert not after.allowed


@SETTINGS
@given(data=st.data())
def test_later_permissive_terms_never_reach_content_collected_under_stricter_ones(
    data: st.DataObject,
) -> None:
    vs = data.draw(versions())
    events = data.draw(ledgers(vs))
    rec = data.draw(records())
    use = data.draw(st.sampled_from(USES))
    ctx = ctx_for(vs, events)
    p0 = ctx.policies.in_force(FAMILY, _us(rec.collected_at))
    if p0 is None:
        return
    if all(p0.evaluate(c, use).effect == "deny" for c in rec.categories[:1]):
        # A new, allow-everything version later on changes nothing for this record.
        last = max(*(v.effective_at for v in vs), rec.collected_at)
        permissive = PolicyVersion(
            family=FAMILY,
            version="permissive",
            effective_at=last + timedelta(days=1),
            default="allow",
            rules=(Rule(id="all", categories=("*",), uses=("*",), effect="allow"),),
        )
        d = decide(ctx_for([*vs, permissive], events), rec, use, last + timedelta(days=2))
        assert not d.allowed
        assert "DENIED_AT_COLLECTION" in d.reasons


@SETTINGS
@given(data=st.data())
def test_no_decision_at_or_after_a_withdrawal_rests_on_the_withdrawn_consent(
    data: st.DataObject,
) -> None:
    vs = data.draw(versions())
    events = data.draw(ledgers(vs))
    rec = data.draw(records())
    use = data.draw(st.sampled_from(USES))
    at = BASE + timedelta(days=data.draw(st.integers(0, 500)))
    ctx = ctx_for(vs, events)
    d = decide(ctx, rec, use, at)
    by_id = {e.event_id: e for e in events}
    for cid in d.core.consents:
        grant = by_id[cid]
        for w in events:
            if (
                w.kind == "withdraw"
                and w.role == grant.role
                and grant.at <= w.at <= at
                and (w.role == "account_admin" or w.subject == grant.subject)
            ):
                assert not any(w.covers(c, use) for c in rec.categories)


@SETTINGS
@given(data=st.data())
def test_an_admin_consent_never_satisfies_every_subject(data: st.DataObject) -> None:
    vs = data.draw(versions())
    admin_only = [e for e in data.draw(ledgers(vs)) if e.role == "account_admin"]
    rec = data.draw(records())
    use = data.draw(st.sampled_from(USES))
    at = BASE + timedelta(days=data.draw(st.integers(0, 500)))
    d = decide(ctx_for(vs, admin_only), rec, use, at)
    if d.core.consent_required is not None and d.core.consent_required.from_ == "every_subject":
        assert not d.allowed


@SETTINGS
@given(data=st.data())
def test_decide_batch_equals_decide(data: st.DataObject) -> None:
    vs = data.draw(versions())
    events = data.draw(ledgers(vs))
    recs = data.draw(st.lists(records(), min_size=1, max_size=25))
    # Only t1 has ledger events: the others take the batch engine's shared path for
    # tenants without any (one decision per policy family). t2 is assigned; t1 and
    # t3 are under the default when there is one; "T1" and "t1 " never are
    # (UNKNOWN_TENANT, like every tenant when there is no default).
    tenants = ["t1", "t2", "t3", "T1", "t1 "]
    recs = [dataclasses.replace(r, tenant=data.draw(st.sampled_from(tenants))) for r in recs]
    use = data.draw(st.sampled_from(USES))
    at = BASE + timedelta(days=data.draw(st.integers(0, 500)))
    default = data.draw(st.sampled_from([FAMILY, None]))
    ctx = ctx_for(vs, events, default, {"t2": FAMILY})
    table = pa.table(
        {
            "id": [r.id for r in recs],
            "tenant": [r.tenant for r in recs],
            "categories": pa.array([list(r.categories) for r in recs], pa.list_(pa.string())),
            "collected_at": pa.array([r.collected_at for r in recs], pa.timestamp("us", tz="UTC")),
            "subjects": pa.array([list(r.subjects) for r in recs], pa.list_(pa.string())),
        }
    )
    out = decide_batch(ctx, table, use, at).to_pylist()
    # Decided in two batches that share a memo (as the gate does): the same answers.
    memo: dict[object, object] = {}
    k = len(recs) // 2
    halves = [
        decide_batch(ctx, table.slice(0, k), use, at, memo),
        decide_batch(ctx, table.slice(k), use, at, memo),
    ]
    assert pa.concat_tables(halves).to_pylist() == out
    # With a memo, a code names the same decision in every batch of the run.
    codes_memo: dict[object, object] = {}
    first, decided = decide_codes(ctx, table.slice(0, k), use, at, codes_memo)
    second, decided_again = decide_codes(ctx, table, use, at, codes_memo)
    assert decided is decided_again
    assert second[:k].tolist() == first.tolist()
    for rec, row in zip(recs, out, strict=True):
        d = decide(ctx, rec, use, at)
        assert row["allowed"] == d.allowed
        assert tuple(row["reasons"]) == d.reasons
        assert tuple(row["rules"]) == d.core.rules
        assert tuple(row["consents"]) == d.core.consents
        assert row["policy_at_use"] == (d.core.policy_at_use.hash if d.core.policy_at_use else None)
        unknown = rec.tenant in ("T1", "t1 ") or (default is None and rec.tenant != "t2")
        assert ("UNKNOWN_TENANT" in d.reasons) == unknown


def test_a_run_beyond_the_packed_key_sizes_is_refused_not_guessed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx = ctx_for([])
    table = pa.table(
        {
            "id": ["a", "b"],
            "tenant": ["t", "t"],
            "category": ["customer.chat", "customer.audio"],
            "collected_at": pa.array([BASE, BASE], pa.timestamp("us", tz="UTC")),
        }
    )
    monkeypatch.setattr(batch, "_CATSET_BITS", 1)  # room for one category set only
    with pytest.raises(InputError, match="too many distinct"):
        decide_batch(ctx, table, USES[0], BASE)


def _us(dt: datetime) -> int:
    from trainguard.timeutil import to_micros

    return to_micros(dt)
