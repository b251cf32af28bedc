"""Zero retention: after gateway requests through the CLI and the HTTP service, no
text of any input (the records, the question) or of the output is in the store,
the logs or the audit log — only ids, decisions and digests."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from trainguard.app import Application, create_key
from trainguard.cli import app as cli
from trainguard.decision.policy import load_policy_file
from trainguard.gateway.features import clean
from trainguard.store import Store

from ..gateway.conftest import (
    AT,
    channel_record,
    enable_ai_features,
    private_record,
    transcript_record,
)

pytest.importorskip("wordllama", reason="the AI features need the gateway extra")

QUESTION = "What did the project manager say about the remote control budget?"
RECORDS = [transcript_record(), channel_record(), private_record()]


def input_texts(records: list[dict[str, Any]]) -> set[str]:
    """Every segment of the inputs long enough to be unmistakable, raw and as
    the features show it, and the question."""
    raw = [t["text"] for r in records for t in r.get("turns", [])] + [
        r["text"] for r in records if "text" in r
    ]
    return {s for text in raw for s in (text, clean(text)) if len(s) >= 30} | {QUESTION}


def stored_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def audit_text(store: Store) -> str:
    return "\n".join(json.dumps(store.audit.entry(i)) for i in range(store.audit.size()))


def assert_retained_nothing(db: Path, logs: str, texts: set[str]) -> None:
    store = Store(str(db))
    entries, on_disk = audit_text(store), stored_bytes(db)
    store.engine.dispose()
    # The checks can see: what the log is meant to hold is found in both places.
    assert "meeting-1/transcript" in entries and b"meeting-1/transcript" in on_disk
    leaked = [t for t in texts if t in entries or t.encode() in on_disk or t in logs]
    assert leaked == [], leaked[:3]


@pytest.fixture
def db(tmp_path: Path, policy_files: dict[str, Path]) -> Path:
    path = tmp_path / "gw.db"
    store = Store(str(path))
    store.init()
    store.add_policies(
        [(load_policy_file(policy_files[v]), str(policy_files[v])) for v in ("v1", "v2", "v3")]
    )
    store.assign_tenant("acme", "meetco-terms")
    enable_ai_features(store)
    store.engine.dispose()
    return path


@pytest.fixture
def acl_file(tmp_path: Path) -> Path:
    path = tmp_path / "acl.yaml"
    path.write_text(
        "acme:\n  'meeting:meeting-1': [alice, bob]\n  'channel:general': '*'\n  'meeting:board': [bob]\n"
    )
    return path


def test_the_cli_keeps_no_input_text(
    db: Path, acl_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    records = tmp_path / "records.json"
    records.write_text(json.dumps(RECORDS))
    runner = CliRunner()
    outputs = []
    for user in ("alice", "bob"):  # bob sees the private meeting too
        for args in (["summarize"], ["ask", "--question", QUESTION]):
            result = runner.invoke(
                cli,
                [
                    "--db",
                    str(db),
                    *args,
                    str(records),
                    "--tenant",
                    "acme",
                    "--user",
                    user,
                    "--acl",
                    str(acl_file),
                    "--at",
                    AT,
                    "--json",
                ],
            )
            assert result.exit_code == 0, result.stderr
            outputs.append(json.loads(result.stdout))
            logs = caplog.text + result.stderr
    assert any(
        c["source"] == "board/transcript" for o in outputs for c in o["citations"]
    )  # it was used
    shown = {p["text"] for o in outputs for p in o["points"] if len(p["text"]) >= 30}
    assert_retained_nothing(db, logs, input_texts(RECORDS) | shown)


def test_the_service_keeps_no_input_text(
    db: Path, acl_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from trainguard.gateway import load_acl
    from trainguard.http import create_app
    from trainguard.http.gateway import configure

    caplog.set_level(logging.DEBUG)
    store = Store(str(db))
    token = create_key(store, "service", "acme")[1]
    application = Application(store)
    service = create_app(application=application)
    configure(service, load_acl(acl_file))

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=service)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://tg", headers=headers
        ) as client:
            body = {"user": "bob", "records": RECORDS}
            return [
                await client.post("/v1/gateway/summary", json=body),
                await client.post("/v1/gateway/question", json={**body, "question": QUESTION}),
            ]

    answers = asyncio.run(go())
    application.close()
    store.engine.dispose()
    assert [a.status_code for a in answers] == [200, 200], answers[0].text
    shown = {p["text"] for a in answers for p in a.json()["points"] if len(p["text"]) >= 30}
    assert shown
    assert_retained_nothing(db, caplog.text, input_texts(RECORDS) | shown)
