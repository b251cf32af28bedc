"""The CLI end to end: every command, exit codes, and one-line errors that write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trainguard.cli import app

runner = CliRunner()


def run(db: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--db", str(db), *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def db(tmp_path: Path, policy_files: dict[str, Path]) -> Path:
    path = tmp_path / "cli.db"
    assert run(path, "init")[0] == 0
    code, _, err = run(path, "policy", "add", *(str(policy_files[v]) for v in ("v1", "v2", "v3")))
    assert code == 0, err
    code, out, err = run(path, "policy", "default", "meetco-terms")
    assert code == 0 and out == "default family: meetco-terms\n", err
    return path


def test_grant_then_decide_follows_the_timeline(db: Path) -> None:
    code, _, err = run(
        db,
        "consent",
        "grant",
        "--tenant",
        "acme",
        "--subject",
        "alice",
        "--role",
        "account_admin",
        "--categories",
        "customer.*",
        "--uses",
        "train.*,infer.feature",
        "--mode",
        "implied",
        "--policy-version",
        "meetco-terms@2023-08-07",
        "--at",
        "2023-08-08T10:00:00Z",
    )
    assert code == 0, err
    code, out, _ = run(
        db,
        "decide",
        "--tenant",
        "acme",
        "--category",
        "customer.chat",
        "--use",
        "train.first_party",
        "--collected-at",
        "2023-05-01",
        "--at",
        "2023-08-09",
        "--json",
    )
    assert code == 0
    d = json.loads(out)
    assert d["allowed"] is True
    assert set(d) >= {
        "allowed",
        "reasons",
        "rules",
        "policy_at_use",
        "policy_at_collection",
        "consents",
    }
    code, out, _ = run(
        db,
        "decide",
        "--tenant",
        "acme",
        "--category",
        "customer.chat",
        "--use",
        "train.first_party",
        "--collected-at",
        "2023-05-01",
        "--at",
        "2023-08-15",
    )
    assert code == 1
    assert "DENIED" in out and "DENIED_AT_USE" in out
    # Both decisions are in the audit log, after the origin, 3 policies and 1 consent event.
    code, out, _ = run(db, "audit", "show", "6")
    assert code == 0 and json.loads(out)["kind"] == "decision"


def test_several_categories_mean_a_derived_record(db: Path) -> None:
    code, out, _ = run(
        db,
        "decide",
        "--tenant",
        "globex",
        "--category",
        "customer.transcript",
        "--category",
        "customer.audio",
        "--use",
        "train.first_party",
        "--collected-at",
        "2023-05-01",
        "--at",
        "2023-08-09",
        "--json",
    )
    assert code == 1
    assert json.loads(out)["reasons"] == ["CONSENT_MISSING"]


def test_listing_and_showing(db: Path) -> None:
    code, out, _ = run(db, "policy", "list", "--json")
    assert code == 0 and len(json.loads(out)) == 3
    code, out, _ = run(db, "policy", "show", "meetco-terms@2023-08-11")
    assert code == 0 and "no-training-on-customer-content" in out
    code, out, _ = run(db, "taxonomy", "show", "--json")
    assert json.loads(out)["uses"]["train.first_party"]["fideslang"] == "train_ai_system"


def test_consent_import(db: Path, tmp_path: Path) -> None:
    f = tmp_path / "events.jsonl"
    lines = [
        {
            "tenant": "acme",
            "kind": "grant",
            "subject": "bob",
            "role": "self",
            "categories": ["customer.chat"],
            "uses": ["infer.feature"],
            "mode": "explicit",
            "policy_version": "meetco-terms@2023-08-11",
            "at": "2023-08-12T00:00:00Z",
        },
        {
            "tenant": "acme",
            "kind": "withdraw",
            "subject": "bob",
            "role": "self",
            "categories": ["customer.chat"],
            "uses": ["infer.feature"],
            "policy_version": "meetco-terms@2023-08-11",
            "at": "2023-09-01T00:00:00Z",
        },
    ]
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    code, out, err = run(db, "consent", "import", str(f))
    assert code == 0, err
    assert "2 events recorded" in out
    assert "1 already on record" not in run(db, "consent", "import", str(f))[1]
    code, out, _ = run(db, "consent", "list", "--json")
    assert len(out.strip().splitlines()) == 2


BAD_INPUTS = [
    (
        [
            "decide",
            "--tenant",
            "a",
            "--category",
            "customer.chat",
            "--use",
            "train.first_party",
            "--collected-at",
            "2023-05-01T00:00:00",
        ],
        "--collected-at: '2023-05-01T00:00:00' has no timezone",
    ),
    (
        [
            "decide",
            "--tenant",
            "a",
            "--category",
            "customer.chat",
            "--use",
            "train.first_party",
            "--collected-at",
            "yesterday",
        ],
        "is not an ISO 8601 date-time",
    ),
    (
        [
            "consent",
            "grant",
            "--tenant",
            "a",
            "--subject",
            "s",
            "--role",
            "boss",
            "--categories",
            "customer.*",
            "--uses",
            "train.*",
            "--mode",
            "explicit",
            "--policy-version",
            "2023-08-11",
        ],
        "role",
    ),
    (
        [
            "consent",
            "grant",
            "--tenant",
            "a",
            "--subject",
            "s",
            "--role",
            "self",
            "--categories",
            "customer.chats",
            "--uses",
            "train.*",
            "--mode",
            "explicit",
            "--policy-version",
            "2023-08-11",
        ],
        "unknown category 'customer.chats'",
    ),
    (
        [
            "consent",
            "grant",
            "--tenant",
            "a",
            "--subject",
            "s",
            "--role",
            "self",
            "--categories",
            "customer.*",
            "--uses",
            "train.*",
            "--mode",
            "explicit",
            "--policy-version",
            "v9",
        ],
        "policy version 'v9' is not in the store",
    ),
    (["policy", "show", "nope"], "policy version 'nope' is not in the store"),
    (["policy", "add", "/nonexistent.yaml"], "/nonexistent.yaml: no such file"),
    (["decide", "--tenant", "a"], "Missing option"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    db: Path, args: list[str], message: str
) -> None:
    before = run(db, "consent", "list", "--json")[1], run(db, "policy", "list", "--json")[1]
    code, out, err = run(db, *args)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out
    assert (
        run(db, "consent", "list", "--json")[1],
        run(db, "policy", "list", "--json")[1],
    ) == before


def test_bad_policy_file_among_good_ones_adds_none(
    db: Path, tmp_path: Path, policy_files: dict[str, Path]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(policy_files["v4"].read_text().replace("effect: deny", "effect: nah"))
    code, _, err = run(db, "policy", "add", str(policy_files["v4"]), str(bad))
    assert code == 2
    assert err.startswith("trainguard: error: ") and str(bad) in err and "line" in err
    assert len(json.loads(run(db, "policy", "list", "--json")[1])) == 3


def test_consent_import_with_a_bad_line_names_it_and_writes_nothing(
    db: Path, tmp_path: Path
) -> None:
    f = tmp_path / "events.jsonl"
    good = {
        "tenant": "acme",
        "kind": "grant",
        "subject": "bob",
        "role": "self",
        "categories": ["customer.chat"],
        "uses": ["infer.feature"],
        "mode": "explicit",
        "policy_version": "meetco-terms@2023-08-11",
        "at": "2023-08-12T00:00:00Z",
    }
    f.write_text(
        json.dumps(good) + "\n" + json.dumps({**good, "at": "2023-08-12"}) + "\n{not json\n"
    )
    code, _, err = run(db, "consent", "import", str(f))
    assert code == 2
    assert f"{f}:3: not valid JSON" in err
    assert run(db, "consent", "list", "--json")[1].strip() == ""


def test_commands_on_an_uninitialized_store_say_so(tmp_path: Path) -> None:
    code, _, err = run(tmp_path / "new.db", "policy", "list")
    assert code == 2 and "not initialized (run `trainguard init`)" in err


def test_demo_runs(tmp_path: Path) -> None:
    out = tmp_path / "explained"
    result = runner.invoke(app, ["demo", "--keep", str(tmp_path / "demo"), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "DENIED_AT_COLLECTION" in result.stdout
    assert "DENIED_AT_USE" in result.stdout
    # The demo's log pins the key it signs with, and verifies under it.
    assert "checkpoint signed; verify: OK" in result.stdout
    # What explains it is written where asked, and said so.
    assert f"Written to {out}:" in result.stdout
    assert "2023-08-11 -> 2024-01-01-hypothetical: 1 expansion, 1 restriction" in result.stdout
    for name in (
        "notice-2023-08-11-participant.txt",
        "notice-2023-08-11-participant.html",
        "policy-diffs.txt",
        "training-summary-assistant-2023-08.json",
        "training-summary-assistant-2023-08.html",
        "audit-report.html",
    ):
        assert (out / name).stat().st_size > 0, name
    assert "It covers the whole log." in (out / "audit-report.html").read_text()
    # The demo's customers are under the terms by name; no default is set.
    assert "acme -> meetco-terms, globex -> meetco-terms; no default family" in result.stdout


def test_the_demo_scan_finds_every_planted_document_in_the_meetings_it_ships(
    tmp_path: Path,
) -> None:
    from trainguard.demo.run import scan_story

    story = scan_story(tmp_path)
    assert story.source == "6 real meetings of the QMSum training split"
    assert story.registered == 3 and story.documents == 6
    assert {f["doc_id"] for f in story.findings} == set(story.planted)
