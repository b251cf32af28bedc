"""`audit verify` makes every logged single decision again under the state the log
had just before it: a state table edited for one decision and put back leaves
the tables as the log says, but not the decision.

Each attack edits a table through raw SQL, has a decision made and logged, and
puts the table back; verify must fail naming the decision's entry. Honest logs
of every writer verify, with every decision counted as made again.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from typer.testing import CliRunner

from trainguard.app.access import Principal
from trainguard.app.decisions import decide_on_sqlite, decide_on_store
from trainguard.cli import app
from trainguard.decision.consent import ConsentEvent
from trainguard.decision.decide import Record
from trainguard.decision.policy import load_policy_file
from trainguard.store import Store
from trainguard.timeutil import parse_instant

AUG_15 = parse_instant("2023-08-15T00:00:00Z", "test")
MAY_1 = parse_instant("2023-05-01T00:00:00Z", "test")


def chat(tenant: str, category: str = "customer.chat", rid: str = "chat-1") -> Record:
    return Record(rid, tenant, (category,), MAY_1)


@pytest.fixture
def terms(any_store: Store, policy_files: dict[str, Path]) -> Store:
    """meetco-terms v1–v3 (the default; acme's), and lax-terms: v1's broad licence
    under another family name, in force but assigned to nobody."""
    s = any_store
    versions = [load_policy_file(policy_files[v]) for v in ("v1", "v2", "v3")]
    lax = versions[0].model_copy(update={"family": "lax-terms"})
    s.add_policies([(v, "test") for v in [*versions, lax]])
    s.set_default_family("meetco-terms")
    s.assign_tenant("acme", "meetco-terms")
    return s


def sql(store: Store, statement: str, **params: Any) -> None:
    with store.write() as conn:
        conn.execute(text(statement), params)


def decide(store: Store, record: Record, use: str = "train.first_party") -> dict[str, Any]:
    decision, index = decide_on_store(Principal.local(), store, record, use, AUG_15)
    return {"index": index, "allowed": decision.allowed}


def admin_grant(store: Store) -> ConsentEvent:
    return ConsentEvent(
        tenant="acme",
        kind="grant",
        subject="admin-1",
        role="account_admin",
        categories=("customer.*",),
        uses=("infer.feature",),
        mode="explicit",
        policy_version=store.policy_set().resolve("meetco-terms@2023-08-11").hash,
        at=parse_instant("2023-08-12T00:00:00Z", "test"),
    )


def lax_default(store: Store) -> dict[str, Any]:
    sql(store, "UPDATE tg_settings SET value = 'lax-terms' WHERE key = 'default_family'")
    out = decide(store, chat("initech"))
    sql(store, "UPDATE tg_settings SET value = 'meetco-terms' WHERE key = 'default_family'")
    return out


def lax_tenant(store: Store) -> dict[str, Any]:
    sql(store, "UPDATE tg_tenant_families SET family = 'lax-terms' WHERE tenant = 'acme'")
    out = decide(store, chat("acme"))
    sql(store, "UPDATE tg_tenant_families SET family = 'meetco-terms' WHERE tenant = 'acme'")
    return out


def lax_body(store: Store) -> dict[str, Any]:
    """v3's stored body swapped for v1's rules under v3's name, then put back."""
    with store.read() as conn:
        rows = dict(conn.execute(text("SELECT version, body FROM tg_policy_versions")).all())
    v1, v3 = json.loads(rows["2023-03-31"]), rows["2023-08-11"]
    forged = {**json.loads(v3), "rules": v1["rules"], "default": v1["default"]}
    sql(
        store,
        "UPDATE tg_policy_versions SET body = :b WHERE version = '2023-08-11'",
        b=json.dumps(forged),
    )
    out = decide(store, chat("acme"))
    sql(store, "UPDATE tg_policy_versions SET body = :b WHERE version = '2023-08-11'", b=v3)
    return out


def consent_row(store: Store) -> dict[str, Any]:
    """A grant inserted with no entry, used by one decision, deleted."""
    e = admin_grant(store)
    sql(
        store,
        "INSERT INTO tg_consent_events (seq, id, tenant, kind, subject, role, at_us, body, "
        "recorded_at_us) VALUES (1000, :id, 'acme', 'grant', 'admin-1', 'account_admin', "
        "1691798400000000, :body, 1691798400000000)",
        id=e.event_id,
        body=json.dumps(e.canonical(), sort_keys=True),
    )
    out = decide(store, chat("acme"), "infer.feature")
    sql(store, "DELETE FROM tg_consent_events WHERE id = :id", id=e.event_id)
    return out


def taxonomy_key(store: Store) -> dict[str, Any]:
    sql(
        store,
        "INSERT INTO tg_taxonomy_keys (key, kind, description) "
        "VALUES ('customer.sticker', 'category', 'Stickers')",
    )
    out = decide(store, chat("acme", "customer.sticker"), "analytics.product")
    sql(store, "DELETE FROM tg_taxonomy_keys WHERE key = 'customer.sticker'")
    return out


ATTACKS = [
    (lax_default, "allowed ALLOWED logged, DENIED on replay"),
    (lax_tenant, "allowed ALLOWED logged, DENIED on replay"),
    (lax_body, "allowed ALLOWED logged, DENIED on replay"),
    (consent_row, "allowed ALLOWED logged, DENIED on replay"),
    (taxonomy_key, "allowed ALLOWED logged, DENIED on replay"),
]


@pytest.mark.parametrize(("attack", "words"), ATTACKS, ids=[a[0].__name__ for a in ATTACKS])
def test_a_table_edited_for_one_decision_and_put_back_fails_verify(
    terms: Store, attack: Any, words: str
) -> None:
    decide(terms, chat("acme"))  # an honest decision before: it stays sound
    assert terms.audit.verify(None).ok
    done = attack(terms)
    assert done["allowed"] is True  # the edit did change the decision
    decide(terms, chat("acme", rid="chat-2"))  # and one after, honest again
    report = terms.audit.verify(None)
    assert not report.ok
    assert report.bad_index == done["index"]
    assert report.problem is not None
    assert report.problem.startswith(f"entry {done['index']}: logged decision is not")
    assert words in report.problem


def test_honest_decisions_of_the_store_path_verify_each_made_again(terms: Store) -> None:
    terms.add_consent_events([admin_grant(terms)])
    for use in ("train.first_party", "infer.feature", "analytics.product"):
        decide(terms, chat("acme"), use)
        decide(terms, chat("initech"), use)
    terms.assign_tenant("initech", "lax-terms")
    decide(terms, chat("initech"))
    report = terms.audit.verify(None)
    assert report.ok, report.problem
    assert (report.redecided, report.not_redecided) == (7, 0)


def test_a_flipped_decision_with_its_leaf_rehashed_fails(terms: Store) -> None:
    """The entry rewritten and its leaf recomputed (an unsigned log): the state says otherwise."""
    from trainguard.audit.merkle import leaf_hash
    from trainguard.canonical import canonical_json

    index = decide(terms, chat("acme"))["index"]
    entry = terms.audit.entry(index)["entry"]
    entry["data"]["allowed"] = True
    entry["data"]["reasons"] = ["ALLOWED"]
    body = canonical_json(entry)
    sql(
        terms,
        "UPDATE tg_audit_entries SET body = :b, leaf_hash = :h WHERE idx = :i",
        b=body,
        h=leaf_hash(body),
        i=index,
    )
    report = terms.audit.verify(None)
    assert not report.ok and report.bad_index == index
    assert "allowed ALLOWED logged, DENIED on replay" in (report.problem or "")


def test_decisions_of_the_sqlite_fast_path_and_the_cli_verify(
    store: Store, policy_files: dict[str, Path], tmp_path: Path
) -> None:
    store.add_policies([(load_policy_file(policy_files[v]), "test") for v in ("v1", "v2", "v3")])
    store.set_default_family("meetco-terms")
    for i in range(3):
        assert (
            decide_on_sqlite(
                Principal.local(),
                store.url,
                chat("acme", rid=f"c{i}"),
                "train.first_party",
                AUG_15 - timedelta(days=i * 10),
            )
            is not None
        )
    runner = CliRunner()
    db = ["--db", str(store.url)]
    result = runner.invoke(
        app,
        [
            *db,
            "decide",
            "--tenant",
            "acme",
            "--category",
            "customer.chat",
            "--use",
            "human_review",
            "--collected-at",
            "2023-05-01",
            "--at",
            "2023-08-15",
        ],
    )
    assert result.exit_code in (0, 1), result.output
    result = runner.invoke(app, [*db, "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "4 decisions made again and matched" in result.output


def test_a_redacted_decision_is_counted_as_not_made_again(terms: Store) -> None:
    index = decide(terms, chat("acme"))["index"]
    decide(terms, chat("acme", rid="chat-2"))
    terms.audit.redact(index)
    report = terms.audit.verify(None)
    assert report.ok, report.problem
    assert (report.redecided, report.not_redecided) == (1, 1)


def test_a_decision_after_a_redacted_consent_entry_is_made_again_from_its_row(
    terms: Store,
) -> None:
    """The erased entry's event is the row its logged digest names."""
    terms.add_consent_events([admin_grant(terms)])
    consent = terms.audit.size() - 1
    assert decide(terms, chat("acme"), "infer.feature")["allowed"] is True
    terms.audit.redact(consent)
    report = terms.audit.verify(None)
    assert report.ok, report.problem
    assert (report.redecided, report.not_redecided) == (1, 0)


# --- random honest histories ---------------------------------------------------------------

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("default"), st.sampled_from(["meetco-terms", "lax-terms"])),
        st.tuples(
            st.just("assign"),
            st.sampled_from(["acme", "initech"]),
            st.sampled_from(["meetco-terms", "lax-terms"]),
        ),
        st.tuples(st.just("grant"), st.integers(0, 3)),
        st.tuples(st.just("taxonomy"), st.integers(0, 2)),
        st.tuples(
            st.just("decide"),
            st.sampled_from(["acme", "initech", "Bad Name"]),
            st.sampled_from(["customer.chat", "customer.k0", "customer.k1"]),
            st.sampled_from(["train.first_party", "infer.feature", "analytics.product"]),
        ),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS, flip=st.integers(0, 100))
def test_random_honest_histories_verify_and_any_flipped_decision_fails(
    tmp_path_factory: pytest.TempPathFactory, policy_files: dict[str, Path], steps: Any, flip: int
) -> None:
    from trainguard.audit.merkle import leaf_hash
    from trainguard.canonical import canonical_json

    s = Store(str(tmp_path_factory.mktemp("h") / "t.db"))
    s.init()
    versions = [load_policy_file(policy_files[v]) for v in ("v1", "v2", "v3")]
    s.add_policies(
        [(v, "t") for v in [*versions, versions[0].model_copy(update={"family": "lax-terms"})]]
    )
    keys: set[int] = set()
    decided: list[int] = []
    for step in steps:
        if step[0] == "default":
            s.set_default_family(step[1])
        elif step[0] == "assign":
            s.assign_tenant(step[1], step[2])
        elif step[0] == "grant":
            e = admin_grant(s).model_copy(update={"subject": f"admin-{step[1]}"})
            s.add_consent_events([e])
        elif step[0] == "taxonomy" and step[1] not in keys:
            keys.add(step[1])
            s.extend_taxonomy({f"customer.k{step[1]}": "k"}, {})
        elif step[0] == "decide":
            decided.append(decide(s, chat(step[1], step[2]), step[3])["index"])
    report = s.audit.verify(None)
    assert report.ok, report.problem
    assert report.redecided == len(decided)
    if decided:
        index = decided[flip % len(decided)]
        entry = s.audit.entry(index)["entry"]
        entry["data"]["allowed"] = not entry["data"]["allowed"]
        body = canonical_json(entry)
        sql(
            s,
            "UPDATE tg_audit_entries SET body = :b, leaf_hash = :h WHERE idx = :i",
            b=body,
            h=leaf_hash(body),
            i=index,
        )
        report = s.audit.verify(None)
        assert not report.ok and report.bad_index == index, report.problem
    s.engine.dispose()


def test_decisions_the_service_group_commits_verify_each_made_again(
    terms: Store, tmp_path: Path
) -> None:
    """Concurrent requests, committed in groups by the journal, with a consent change
    landing between them (the journal makes overtaken decisions again)."""
    from concurrent.futures import ThreadPoolExecutor

    from trainguard.app import Application, create_key

    application = Application(terms, tmp_path / "r", tmp_path / "k")
    try:
        token = create_key(terms, "service", "acme")[1]

        def one(i: int) -> dict[str, Any]:
            if i == 100:
                Store(terms.url, engine=terms.engine).add_consent_events([admin_grant(terms)])
            who = application.authenticate(token, fresh=False)
            return application.submit_decide(
                who,
                categories=["customer.chat"],
                use="infer.feature",
                collected_at="2023-05-01",
                at="2023-08-15",
                record_id=f"chat-{i}",
            ).result()

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(one, range(200)))
        assert {a["allowed"] for a in answers} == {False, True}
        report = terms.audit.verify(None)
        assert report.ok, report.problem
        assert (report.redecided, report.not_redecided) == (200, 0)
    finally:
        application.close()
