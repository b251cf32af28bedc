"""Consent input: withdrawals must end a grant on record, and imports are read strictly
(all or nothing) — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from trainguard.decision import consent_input
from trainguard.decision.consent import ConsentEvent, UnmatchedWithdrawalError
from trainguard.decision.consent_input import read_events_body, read_events_file
from trainguard.decision.identity import IdentityError
from trainguard.decision.policy import load_policy_file
from trainguard.decision.taxonomy import DEFAULT_TAXONOMY
from trainguard.errors import ConsentError, InputError
from trainguard.store import Store


@pytest.fixture
def ledger_store(any_store: Store, policy_files: dict[str, Path]) -> Store:
    """v1–v2 and bob's own explicit grant for training on his chat, on 2023-08-08."""
    any_store.add_policies(
        [(load_policy_file(policy_files[v]), str(policy_files[v])) for v in ("v1", "v2")]
    )
    any_store.add_consent_events([event(any_store, "grant")])
    return any_store


def event(store: Store, kind: str, **changes: Any) -> ConsentEvent:
    body: dict[str, Any] = {
        "tenant": "acme",
        "kind": kind,
        "subject": "bob",
        "role": "self",
        "categories": ("customer.chat",),
        "uses": ("train.*",),
        "mode": "explicit" if kind == "grant" else None,
        "policy_version": store.policy_set().resolve("meetco-terms@2023-08-07").hash,
        "at": datetime(2023, 8, 8 if kind == "grant" else 9, tzinfo=UTC),
    }
    body.update(changes)
    return ConsentEvent.model_validate(body)


def test_a_withdrawal_of_bobs_grant_is_recorded(ledger_store: Store) -> None:
    assert ledger_store.add_consent_events([event(ledger_store, "withdraw")]) == (1, 0)
    # A narrower withdrawal still ends part of the grant: it matches.
    narrower = event(ledger_store, "withdraw", uses=("train.first_party",))
    assert ledger_store.add_consent_events([narrower]) == (1, 0)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"subject": "Bob"}, "subject 'Bob' (tenant acme, role self) matches no grant on record; "
         "the closest subject on record is 'bob'"),
        ({"subject": "bobby"}, "the closest subject on record is 'bob'"),
        ({"tenant": "acme2"}, "tenant acme2 has no grant on record; the closest tenant on record "
         "is 'acme'"),
        ({"role": "account_admin"}, "matches no grant on record; the closest subject"),
        ({"categories": ("customer.audio",)}, "the self grants on record do not cover "
         "customer.audio for train.* at or before 2023-08-09T00:00:00Z"),
        ({"uses": ("infer.feature",)}, "do not cover customer.chat for infer.feature"),
        ({"at": datetime(2023, 8, 7, tzinfo=UTC)}, "at or before 2023-08-07T00:00:00Z"),
    ],
)  # fmt: skip
def test_a_withdrawal_that_ends_nothing_is_refused_and_writes_nothing(
    ledger_store: Store, changes: dict[str, Any], problem: str
) -> None:
    w = event(ledger_store, "withdraw", **changes)
    size = ledger_store.audit.size()
    with pytest.raises(UnmatchedWithdrawalError) as err:
        ledger_store.add_consent_events([w])
    assert problem in str(err.value) and "\n" not in str(err.value)
    assert ledger_store.audit.size() == size and len(ledger_store.consent_events()) == 1
    # Consent given elsewhere can still be withdrawn here, when the caller says so.
    assert ledger_store.add_consent_events([w], allow_unmatched=True) == (1, 0)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"subject": "bob "}, "subject 'bob ': a subject must not begin or end with a space"),
        ({"subject": "b\u200bob"}, "character 2 is U+200B ZERO WIDTH SPACE"),
        ({"tenant": "ACME"}, "tenant 'ACME': character 1 is U+0041"),
        ({"tenant": "ａｃｍｅ"}, "character 1 is U+FF41"),
        ({"subject": "b" * 300}, "at most 256 characters"),
        ({"notice_id": "n\x001"}, "notice_id: character 2 is U+0000"),
    ],
)
def test_an_event_naming_no_exact_identity_is_refused_before_any_matching(
    ledger_store: Store, changes: dict[str, Any], problem: str
) -> None:
    for kind in ("grant", "withdraw"):
        with pytest.raises(InputError, match=problem.replace("+", r"\+")):
            ledger_store.add_consent_events([event(ledger_store, kind, **changes)])
    assert len(ledger_store.consent_events()) == 1


def test_an_admin_withdrawal_ends_any_admins_grant(ledger_store: Store) -> None:
    grant = event(ledger_store, "grant", role="account_admin", subject="alice", mode="implied")
    ledger_store.add_consent_events([grant])
    # Another admin of the tenant acts for it too, as decide reads the ledger.
    other_admin = event(ledger_store, "withdraw", role="account_admin", subject="carol")
    assert ledger_store.add_consent_events([other_admin]) == (1, 0)


def test_a_grant_and_its_withdrawal_may_arrive_together(ledger_store: Store) -> None:
    grant = event(ledger_store, "grant", subject="dan")
    withdrawal = event(ledger_store, "withdraw", subject="dan")
    assert ledger_store.add_consent_events([withdrawal, grant]) == (2, 0)
    # Recorded once, a withdrawal imported again is simply already on record.
    assert ledger_store.add_consent_events([withdrawal]) == (0, 1)


# --- strict reading of JSON ---------------------------------------------------------------


def line(**changes: Any) -> str:
    body: dict[str, Any] = {
        "tenant": "acme",
        "kind": "grant",
        "subject": "bob",
        "role": "self",
        "categories": ["customer.chat"],
        "uses": ["train.*"],
        "mode": "explicit",
        "policy_version": "meetco-terms@2023-08-07",
        "at": "2023-08-08T00:00:00Z",
    }
    body.update(changes)
    return json.dumps(body)


def resolve(ref: str) -> str:
    return "h" * 64 if ref == "meetco-terms@2023-08-07" else ref


def read(tmp_path: Path, *lines: str | bytes) -> list[ConsentEvent]:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(x.encode() if isinstance(x, str) else x for x in lines) + b"\n")
    return read_events_file(path, resolve, DEFAULT_TAXONOMY)


DUPLICATE = line().replace('"subject": "bob"', '"subject": "mallory", "subject": "bob"')


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (DUPLICATE, "events.jsonl:2: duplicate key 'subject'"),
        ('{"tenant": "acme", "extra": {"k": 1, "k": 2}}', "events.jsonl:2: duplicate key 'k'"),
        (line(subject="bob\x00"), "events.jsonl:2: subject: character 4 is U+0000"),
        (line(notice_id="n\u202e1"), "notice_id: character 2 is U+202E"),
        (line(subject="x" * 20_000), "events.jsonl:2: subject 'xxx"),
        (line(subject="s" * (70 * 1024)), "events.jsonl:2: line is over 65,536 bytes"),
        ("[1, 2]", "events.jsonl:2: an event must be a JSON object, not an array"),
        ('"acme"', "events.jsonl:2: an event must be a JSON object, not a string"),
        ('{"tenant": NaN}', "events.jsonl:2: not valid JSON (NaN is not a JSON number)"),
        ('{"tenant": "acme"', "events.jsonl:2: not valid JSON"),
        (b'{"tenant": "\xff"}', "events.jsonl:2: not UTF-8 (byte 13)"),
        (line(tenant="Acme"), "events.jsonl:2: tenant 'Acme'"),
        (line(categories=["customer.chat"] * 65), "events.jsonl:2: categories: at most 64"),
    ],
)
def test_a_file_with_one_bad_line_is_refused_naming_the_line(
    tmp_path: Path, bad: str | bytes, problem: str
) -> None:
    with pytest.raises(InputError) as err:
        read(tmp_path, line(), bad, line(subject="carol"))
    assert problem in str(err.value), str(err.value)
    assert "\n" not in str(err.value)


def test_identity_problems_are_identity_errors(tmp_path: Path) -> None:
    with pytest.raises(IdentityError):
        read(tmp_path, line(subject="bob "))


def test_a_good_file_is_read_whole(tmp_path: Path) -> None:
    events = read(tmp_path, line(), "", line(subject="carol", kind="withdraw", mode=None))
    assert [(e.subject, e.kind, e.policy_version) for e in events] == [
        ("bob", "grant", "h" * 64),
        ("carol", "withdraw", "h" * 64),
    ]


def test_the_number_of_events_in_one_import_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consent_input, "MAX_EVENTS", 2)
    assert len(read(tmp_path, line(), line(subject="c"))) == 2
    with pytest.raises(ConsentError, match="events.jsonl:3: more than 2 events in one import"):
        read(tmp_path, line(), line(subject="c"), line(subject="d"))


def test_a_request_body_is_read_as_strictly() -> None:
    body = ('{"events": [' + line() + ", " + DUPLICATE + "]}").encode()
    with pytest.raises(ConsentError, match=r"^body: duplicate key 'subject'$"):
        read_events_body(body, "body", resolve, DEFAULT_TAXONOMY)
    with pytest.raises(ConsentError, match=r"body: events\[0\]: subject: character 4 is U\+0000"):
        read_events_body(
            ('{"events": [' + line(subject="bob\x00") + "]}").encode(),
            "body",
            resolve,
            DEFAULT_TAXONOMY,
        )
    with pytest.raises(ConsentError, match='must be {"events": \\[...\\]} and nothing else'):
        read_events_body(
            b'{"events": [], "allow_unmatched": true}', "body", resolve, DEFAULT_TAXONOMY
        )
    events = read_events_body(
        ('{"events": [' + line() + "]}").encode(), "body", resolve, DEFAULT_TAXONOMY
    )
    assert [e.subject for e in events] == ["bob"]
