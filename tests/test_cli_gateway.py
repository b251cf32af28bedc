"""trainguard summarize / ask: the gateway from the command line, and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trainguard.cli import app
from trainguard.store import Store

from .gateway.conftest import (
    AT,
    PHISHING,
    channel_record,
    enable_ai_features,
    private_record,
    transcript_record,
)

pytest.importorskip("wordllama", reason="the AI features need the gateway extra")
runner = CliRunner()


@pytest.fixture
def db(timeline_store: Store) -> Path:
    enable_ai_features(timeline_store)
    return Path(str(timeline_store.engine.url.database))


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    records = tmp_path / "records.json"
    records.write_text(
        json.dumps({"records": [transcript_record(), channel_record(), private_record()]})
    )
    acl = tmp_path / "acl.yaml"
    acl.write_text("acme:\n  'meeting:meeting-1': [alice]\n  'channel:general': '*'\n")
    return {"records": records, "acl": acl}


def run(db: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--db", str(db), *args])
    return result.exit_code, result.stdout, result.stderr


def test_summarize_prints_cited_points_and_what_was_used(db: Path, files: dict[str, Path]) -> None:
    code, out, err = run(
        db,
        "summarize",
        str(files["records"]),
        "--tenant",
        "acme",
        "--user",
        "alice",
        "--acl",
        str(files["acl"]),
        "--at",
        AT,
    )
    assert code == 0, err
    assert "[1] meeting-1/transcript" in out and "[2] general/msg-17" in out
    assert PHISHING not in out and "board/transcript" not in out
    assert "(2 of 3 records used; output ai-" in out


def test_ask_answers_with_json_on_request(db: Path, files: dict[str, Path]) -> None:
    code, out, err = run(
        db,
        "ask",
        str(files["records"]),
        "-q",
        "What is the remote control for?",
        "--tenant",
        "acme",
        "--user",
        "alice",
        "--acl",
        str(files["acl"]),
        "--at",
        AT,
        "--json",
    )
    assert code == 0, err
    answer = json.loads(out)
    assert answer["feature"] == "question" and len(answer["points"]) == 5
    assert [d["used"] for d in answer["decisions"]] == [True, True, False]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "no access check is configured"),
        (
            ["--acl", "ACL", "--access-hook", "http://127.0.0.1:9/"],
            "give one access check, not both",
        ),
        (
            ["--acl", "ACL", "--provider", "elsewhere"],
            "provider 'elsewhere' is not on tenant acme's allowlist",
        ),
        (["--acl", "ACL", "--purpose", "train.first_party"], "purpose 'train.first_party'"),
        (["--acl", "ACL", "--user", "Alice "], "user"),
        (["--access-hook", "ftp://x"], "an http:// or https:// URL"),
        (["--acl", "missing.yaml"], "missing.yaml"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_logs_nothing(
    db: Path, files: dict[str, Path], extra: list[str], message: str
) -> None:
    size = Store(str(db)).audit.size()
    args = [str(files["acl"]) if a == "ACL" else a for a in extra]
    user = [] if "--user" in args else ["--user", "alice"]
    code, _out, err = run(db, "summarize", str(files["records"]), "--tenant", "acme", *user, *args)
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert Store(str(db)).audit.size() == size


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "records.json"),
        (
            '[{"id": "a", "categories": ["customer.chat"], "collected_at": "2023-08-20", "text": "x", "turns": []}]',
            "records.0: give either text or turns",
        ),
        (
            '[{"id": "a", "categories": [], "collected_at": "2023-08-20", "text": "x"}]',
            "records.0.categories: at least one category",
        ),
        (
            '[{"id": "a", "categories": ["customer.chat"], "collected_at": "soon", "text": "x"}]',
            "records.0.collected_at",
        ),
        ('{"records": 3}', "records: a list of records"),
    ],
)
def test_a_bad_records_file_is_one_line_exit_2(
    db: Path, files: dict[str, Path], tmp_path: Path, content: str, message: str
) -> None:
    bad = tmp_path / "records.json"
    bad.write_text(content)
    code, _, err = run(
        db, "summarize", str(bad), "--tenant", "acme", "--user", "alice", "--acl", str(files["acl"])
    )
    assert code == 2 and message in err and err.count("\n") == 1, err
