"""`trainguard serve` over a real socket, and `trainguard apikey` from the command line."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from typer.testing import CliRunner

from trainguard.cli import app as cli

from .conftest import chat


def run(db: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", str(db), *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_apikey_create_list_revoke(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    run(db, "init")
    created = json.loads(
        run(db, "apikey", "create", "--role", "admin", "--tenant", "acme", "--json")
    )
    assert created["token"].startswith(f"tgk_{created['id']}_")
    listed = run(db, "apikey", "list")
    assert created["id"] in listed and created["token"] not in listed
    run(db, "apikey", "revoke", created["id"])
    assert json.loads(run(db, "apikey", "list", "--json"))[0]["revoked_at"] is not None


def test_apikey_mistakes_are_one_line_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    run(db, "init")
    for args, problem in [
        (["create", "--role", "admin"], "needs --tenant"),
        (["create", "--role", "operator", "--tenant", "acme"], "bound to no tenant"),
        (["create", "--role", "root", "--tenant", "acme"], "role 'root'"),
        (["create", "--role", "admin", "--tenant", "Acme"], "tenant 'Acme'"),
        (["revoke", "0000"], "does not exist"),
    ]:
        result = CliRunner().invoke(cli, ["--db", str(db), "apikey", *args])
        assert (
            result.exit_code == 2 and problem in result.stderr and result.stderr.count("\n") == 1
        ), result.stderr


def start(db: Path, *options: str) -> tuple[subprocess.Popen[bytes], str]:
    """`trainguard serve` on a free port, once it answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    trainguard = str(Path(sys.executable).with_name("trainguard"))  # the installed command
    command = [trainguard, "--db", str(db), "serve", "--port", str(port), *options]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):  # up to 30 s for the interpreter and uvicorn to start
        try:
            httpx.get(f"{base}/healthz", timeout=1.0)
            return server, base
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError("trainguard serve did not answer")


def test_two_worker_processes_write_one_log_that_verifies(
    tmp_path: Path, policy_files: dict[str, Path]
) -> None:
    db = tmp_path / "serve.db"
    run(db, "init")
    run(db, "policy", "add", *(str(policy_files[v]) for v in ("v1", "v2", "v3")))
    run(db, "tenant", "assign", "acme", "meetco-terms")
    token = json.loads(
        run(db, "apikey", "create", "--role", "service", "--tenant", "acme", "--json")
    )["token"]
    server, base = start(db, "--workers", "2")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with ThreadPoolExecutor(8) as pool:  # new connections, spread over both workers
            answers = list(
                pool.map(
                    lambda i: httpx.post(
                        f"{base}/v1/decisions", json=chat(id=f"c{i}"), headers=headers
                    ),
                    range(60),
                )
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert [a.status_code for a in answers] == [200] * 60
    indexes = sorted(a.json()["audit_index"] for a in answers)
    assert indexes == list(range(indexes[0], indexes[0] + 60))
    assert "OK" in run(db, "audit", "verify")


def test_serve_refuses_a_number_of_workers_out_of_range(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "t.db"), "serve", "--workers", "0"])
    assert result.exit_code == 2 and "--workers 0" in result.stderr


def test_trainguard_serve_answers_over_a_real_socket(
    tmp_path: Path, policy_files: dict[str, Path]
) -> None:
    db = tmp_path / "serve.db"
    run(db, "init")
    run(db, "policy", "add", *(str(policy_files[v]) for v in ("v1", "v2", "v3")))
    run(db, "tenant", "assign", "acme", "meetco-terms")
    token = json.loads(
        run(db, "apikey", "create", "--role", "service", "--tenant", "acme", "--json")
    )["token"]
    server, base = start(db)
    try:
        health = httpx.get(f"{base}/healthz", timeout=5.0)
        assert health.json()["status"] == "ok"
        assert httpx.post(f"{base}/v1/decisions", json=chat()).status_code == 401
        decided = httpx.post(
            f"{base}/v1/decisions",
            json=chat(at="2023-08-15"),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert decided.status_code == 200 and decided.json()["reasons"] == ["DENIED_AT_USE"]
        assert "trainguard_decisions_total" in httpx.get(f"{base}/metrics").text
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_refuses_a_port_out_of_range(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "t.db"), "serve", "--port", "70000"])
    assert result.exit_code == 2 and "--port 70000" in result.stderr
