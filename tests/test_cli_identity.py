"""The CLI and exact identities: look-alike tenants and subjects are refused in one
line with exit 2 and nothing written; unassigned tenants are denied UNKNOWN_TENANT
unless the operator set a default; withdrawals must end a grant on record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .decision.test_identity import ACME_LOOKALIKES, CAFE_NFC, CAFE_NFD
from .test_cli import run

CHAT = ["--category", "customer.chat", "--use", "train.first_party",
        "--collected-at", "2023-05-01", "--at", "2023-08-09"]  # fmt: skip
BOB = ["--role", "self", "--categories", "customer.chat", "--uses", "train.*",
       "--policy-version", "meetco-terms@2023-08-07"]  # fmt: skip


@pytest.fixture
def db(tmp_path: Path, policy_files: dict[str, Path]) -> Path:
    """v1–v3, no default, acme-ent assigned by name, and bob's own grant."""
    path = tmp_path / "cli.db"
    assert run(path, "init")[0] == 0
    code, _, err = run(path, "policy", "add", *(str(policy_files[v]) for v in ("v1", "v2", "v3")))
    assert code == 0, err
    assert run(path, "tenant", "assign", "acme-ent", "meetco-terms")[0] == 0
    code, _, err = run(path, "consent", "grant", "--tenant", "acme-ent", "--subject", "bob",
                       *BOB, "--mode", "explicit", "--at", "2023-08-08T00:00:00Z")  # fmt: skip
    assert code == 0, err
    return path


def one_line_exit_2(db: Path, *args: str) -> str:
    before = run(db, "consent", "list", "--json")[1]
    code, out, err = run(db, *args)
    assert code == 2, (code, out, err)
    assert err.startswith("trainguard: error: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in out + err
    assert run(db, "consent", "list", "--json")[1] == before
    return err


@pytest.mark.parametrize("name", [*ACME_LOOKALIKES, CAFE_NFC, CAFE_NFD])
def test_decide_refuses_a_lookalike_tenant(db: Path, name: str) -> None:
    err = one_line_exit_2(db, "decide", "--tenant", name, *CHAT)
    # NUL is refused in any argument before a command runs; the rest name --tenant.
    assert ("--tenant '" in err) or ("\x00" in name and "contains a NUL character" in err)


@pytest.mark.parametrize("name", ["Acme-Ent", " acme-ent", "acme\u2011ent", "ａｃｍｅ-ent"])
def test_tenant_assign_and_consent_refuse_a_lookalike_tenant(db: Path, name: str) -> None:
    assert "tenant '" in one_line_exit_2(db, "tenant", "assign", name, "meetco-terms")
    one_line_exit_2(db, "consent", "grant", "--tenant", name, "--subject", "bob", *BOB,
                    "--mode", "explicit")  # fmt: skip
    one_line_exit_2(db, "consent", "list", "--tenant", name)


def test_an_unassigned_tenant_is_denied_until_the_operator_sets_a_default(db: Path) -> None:
    code, out, _ = run(db, "decide", "--tenant", "globex", *CHAT, "--json")
    assert code == 1 and json.loads(out)["reasons"] == ["UNKNOWN_TENANT"]
    code, out, _ = run(db, "decide", "--tenant", "globex", *CHAT)
    assert "UNKNOWN_TENANT: the tenant is not assigned any terms" in out
    assert run(db, "policy", "default", "meetco-terms") == (0, "default family: meetco-terms\n", "")
    code, out, _ = run(db, "decide", "--tenant", "globex", *CHAT, "--json")
    assert code == 1 and json.loads(out)["reasons"] == ["CONSENT_MISSING"]  # now under the terms
    assert run(db, "policy", "default", "--none") == (0, "no default family\n", "")
    code, out, _ = run(db, "decide", "--tenant", "globex", *CHAT, "--json")
    assert json.loads(out)["reasons"] == ["UNKNOWN_TENANT"]
    one_line_exit_2(db, "policy", "default")
    one_line_exit_2(db, "policy", "default", "Meetco-Terms")


def test_decide_refuses_lookalike_subjects_and_record_ids(db: Path) -> None:
    one_line_exit_2(db, "decide", "--tenant", "acme-ent", *CHAT, "--subjects", "bob ")
    one_line_exit_2(db, "decide", "--tenant", "acme-ent", *CHAT, "--subjects", "bob, carol")
    one_line_exit_2(db, "decide", "--tenant", "acme-ent", *CHAT, "--id", "r\u200b1")


@pytest.mark.parametrize(
    ("tenant", "subject", "problem"),
    [
        ("acme-ent", "Bob", "matches no grant on record; the closest subject on record is 'bob' "
         "(--allow-unmatched records it anyway)"),
        ("acme-ent", "bob ", "--subject 'bob ': a subject must not begin or end with a space"),
        ("ACME", "bob", "--tenant 'ACME': character 1 is U+0041"),
        ("acme", "bob", "tenant acme has no grant on record; the closest tenant on record is "
         "'acme-ent'"),
    ],
)  # fmt: skip
def test_a_withdrawal_that_ends_nothing_is_refused(
    db: Path, tenant: str, subject: str, problem: str
) -> None:
    args = ["consent", "withdraw", "--tenant", tenant, "--subject", subject, *BOB]
    assert problem in one_line_exit_2(db, *args)
    if tenant.islower() and subject.strip() == subject:
        code, out, err = run(db, *args, "--allow-unmatched")
        assert code == 0 and "recorded" in out, err


def test_the_right_withdrawal_is_recorded(db: Path) -> None:
    code, out, err = run(db, "consent", "withdraw", "--tenant", "acme-ent", "--subject", "bob",
                         *BOB, "--at", "2023-08-09T00:00:00Z")  # fmt: skip
    assert code == 0 and "recorded" in out, err


def test_consent_import_refuses_duplicate_keys_and_unmatched_withdrawals(
    db: Path, tmp_path: Path
) -> None:
    event = {"tenant": "acme-ent", "kind": "withdraw", "subject": "Bob", "role": "self",
             "categories": ["customer.chat"], "uses": ["train.*"],
             "policy_version": "meetco-terms@2023-08-07", "at": "2023-08-09T00:00:00Z"}  # fmt: skip
    f = tmp_path / "events.jsonl"
    f.write_text(
        json.dumps(event).replace('"subject": "Bob"', '"subject": "bob", "subject": "Bob"')
    )
    err = one_line_exit_2(db, "consent", "import", str(f))
    assert f"{f}:1: duplicate key 'subject'" in err
    f.write_text(json.dumps(event) + "\n")
    assert "the closest subject on record is 'bob'" in one_line_exit_2(
        db, "consent", "import", str(f)
    )
    f.write_text(json.dumps({**event, "subject": "bob\u0000"}) + "\n")
    assert f"{f}:1: subject: character 4 is U+0000" in one_line_exit_2(
        db, "consent", "import", str(f)
    )
    f.write_text(json.dumps(event) + "\n")
    code, out, err = run(db, "consent", "import", str(f), "--allow-unmatched")
    assert code == 0 and "1 events recorded" in out, err


def test_consent_import_refuses_a_20_mb_subject_without_reading_it_whole(
    db: Path, tmp_path: Path
) -> None:
    f = tmp_path / "big.jsonl"
    event = {"tenant": "acme-ent", "kind": "grant", "subject": "x" * (20 << 20), "role": "self",
             "categories": ["customer.chat"], "uses": ["train.*"], "mode": "explicit",
             "policy_version": "meetco-terms@2023-08-07", "at": "2023-08-08T00:00:00Z"}  # fmt: skip
    f.write_text(json.dumps(event) + "\n")
    err = one_line_exit_2(db, "consent", "import", str(f))
    assert f"{f}:1: line is over 65,536 bytes" in err
