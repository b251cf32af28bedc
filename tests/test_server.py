"""The HTTP service answers as the CLI does: decisions recorded in the log, scans that
find planted content, proofs an outsider can check — and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from trainguard.audit.note import Signer
from trainguard.cli import app as cli
from trainguard.scan import KeyRing, Registry, tokenize, transcript_text
from trainguard.server import create_app
from trainguard.store import Store
from trainguard.verify import verify_proof

from .conftest import meeting_rows


def run(db: Path, *args: str) -> None:
    result = CliRunner().invoke(cli, ["--db", str(db), *args])
    assert result.exit_code == 0, result.stderr


@pytest.fixture
def db(tmp_path: Path, policy_files: dict[str, Path]) -> Path:
    path = tmp_path / "server.db"
    run(path, "init")
    run(path, "policy", "add", *(str(policy_files[v]) for v in ("v1", "v2", "v3")))
    run(path, "tenant", "assign", "acme", "meetco-terms")
    run(path, "consent", "grant", "--tenant", "acme", "--subject", "alice",
        "--role", "account_admin", "--categories", "customer.*", "--uses", "train.*",
        "--mode", "implied", "--policy-version", "meetco-terms@2023-08-07",
        "--at", "2023-08-08T10:00:00Z")  # fmt: skip
    return path


@pytest.fixture
def client(db: Path, tmp_path: Path) -> TestClient:
    return TestClient(create_app(str(db), tmp_path / "registry", tmp_path / "keys"))


def chat(at: str) -> dict[str, Any]:
    return {
        "tenant": "acme",
        "categories": ["customer.chat"],
        "use": "train.first_party",
        "collected_at": "2023-05-01",
        "at": at,
        "id": "chat-1",
    }


def test_decisions_follow_the_timeline_and_are_recorded(client: TestClient, db: Path) -> None:
    allowed = client.post("/v1/decisions", json=chat("2023-08-09"))
    assert allowed.status_code == 200 and allowed.json()["allowed"] is True
    denied = client.post("/v1/decisions", json=chat("2023-08-15"))
    assert denied.status_code == 200  # a denial is an answer, not an error
    assert denied.json()["allowed"] is False and "DENIED_AT_USE" in denied.json()["reasons"]
    size = Store(str(db)).audit.size()
    last = client.get(f"/v1/audit/entries/{size - 1}").json()
    assert last["kind"] == "decision" and last["entry"]["data"] == denied.json()


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"collected_at": "last spring"}, 400, "collected_at"),
        ({"at": "2023-08-09T10:00:00"}, 400, "at"),  # no timezone: refused, not guessed
        ({"categories": []}, 422, "categories"),
        ({"use": None}, 422, "use"),
    ],
)
def test_bad_input_is_a_clear_error(
    client: TestClient, change: dict[str, Any], status: int, words: str
) -> None:
    response = client.post("/v1/decisions", json={**chat("2023-08-09"), **change})
    assert response.status_code == status
    assert words in json.dumps(response.json())


def test_an_unknown_category_is_denied_with_its_reason(client: TestClient) -> None:
    body = {**chat("2023-08-09"), "categories": ["customer.telepathy"]}
    response = client.post("/v1/decisions", json=body)
    assert response.status_code == 200
    assert response.json()["allowed"] is False
    assert "UNKNOWN_CATEGORY" in response.json()["reasons"]


def test_proofs_served_over_http_verify_offline(
    client: TestClient, db: Path, tmp_path: Path
) -> None:
    assert client.get("/v1/audit/checkpoint").status_code == 404  # none signed yet
    client.post("/v1/decisions", json=chat("2023-08-09"))
    store = Store(str(db))
    signer = Signer.generate(store.audit.origin())
    store.audit.checkpoint(signer)
    note = client.get("/v1/audit/checkpoint").text
    size = store.audit.size()
    proof = client.get(f"/v1/audit/proofs/inclusion/{size - 1}", params={"size": size}).json()
    assert "is in the log" in verify_proof(signer.verifier, note, proof)
    consistency = client.get("/v1/audit/proofs/consistency", params={"from": 1, "to": size})
    assert "is a prefix" in verify_proof(signer.verifier, note, consistency.json())
    missing = client.get(f"/v1/audit/entries/{size + 5}")
    assert missing.status_code == 404 and "does not exist" in missing.json()["error"]["message"]


def test_a_scan_finds_planted_content_with_its_offsets(client: TestClient, tmp_path: Path) -> None:
    row = meeting_rows()[0]
    text = transcript_text(row["turns"])
    registry = Registry(tmp_path / "registry", KeyRing(tmp_path / "keys"))
    registry.add("acme", [(row["meeting_id"], text, "customer.transcript")])
    t = tokenize(text)
    fragment = text[int(t.starts[100]) : int(t.ends[139])]  # 40 words
    pasted = "A blog post, then: " + fragment + " — and more."
    response = client.post(
        "/v1/scan",
        json={"documents": [{"id": "post", "text": pasted}, {"id": "other", "text": "x"}]},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["documents"] == 2 and [f["doc_id"] for f in body["findings"]] == ["post"]
    [span] = body["findings"][0]["spans"]
    assert span["items"] == [row["meeting_id"]] and span["kind"] == "verbatim"
    assert pasted[span["start"] : span["end"]] == fragment


def test_a_scan_with_keys_the_registry_was_not_made_with_is_refused(
    db: Path, tmp_path: Path
) -> None:
    registry = Registry(tmp_path / "registry", KeyRing(tmp_path / "keys"))
    registry.add("acme", [("m1", " ".join(f"word{i}" for i in range(40)), None)])
    other = TestClient(create_app(str(db), tmp_path / "registry", tmp_path / "other-keys"))
    response = other.post("/v1/scan", json={"documents": [{"id": "d", "text": "word1"}]})
    assert response.status_code == 400 and "platform key" in response.json()["error"]["message"]


def test_health_names_the_store_and_an_uninitialized_one_is_an_error(
    client: TestClient, tmp_path: Path
) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    fresh = TestClient(create_app(str(tmp_path / "none.db")))
    response = fresh.get("/healthz")
    assert response.status_code == 400 and "not initialized" in response.json()["error"]["message"]


def test_trainguard_serve_answers_over_a_real_socket(db: Path, tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    trainguard = str(Path(sys.executable).with_name("trainguard"))  # the installed command
    command = [trainguard, "--db", str(db), "serve", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):  # up to 20 s for the interpreter and uvicorn to start
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("trainguard serve did not answer")
        assert health.json()["status"] == "ok"
        decision = httpx.post(f"http://127.0.0.1:{port}/v1/decisions", json=chat("2023-08-15"))
        assert decision.json()["allowed"] is False
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_refuses_a_port_out_of_range(db: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(db), "serve", "--port", "70000"])
    assert result.exit_code == 2 and "--port 70000" in result.stderr


def test_notices_and_diffs_over_http(client: TestClient) -> None:
    shown = client.get("/v1/policies/meetco-terms@2023-08-11/notice")
    assert shown.status_code == 200 and shown.json()["version"] == "2023-08-11"
    changes = client.get(
        "/v1/policies/diff",
        params={"from": "meetco-terms@2023-03-31", "to": "meetco-terms@2023-08-07"},
    ).json()
    assert len(changes) == 1 and changes[0]["after"]["effect"] == "require_consent"
    missing = client.get("/v1/policies/meetco-terms@1999-01-01/notice")
    assert missing.status_code == 404 and "not in the store" in missing.json()["error"]["message"]
