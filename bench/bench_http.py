"""The HTTP service under load on loopback: single decisions/s with p50/p99
latency, batch records/s, errors, and the server's memory before and after —
on SQLite and (when a URL is given) PostgreSQL, with the in-process ``decide``
rate beside them as the floor.

The server is `trainguard serve` (one uvicorn process); the load comes from
a separate process: keep-alive connections on one asyncio event loop sending
prepared request bytes, for a fixed time and at most a fixed number of
requests. The load generator shares the machine's cores with the server, so
its own CPU use is reported, and the server's CPU per request.

Run: python bench/bench_http.py [--seconds S] [--connections C] [--procs P]
     [--consent N] [--db POSTGRESQL_URL]. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from _common import emit
from trainguard.app import Application, create_key
from trainguard.decision.consent import ConsentEvent
from trainguard.decision.policy import load_policy_file
from trainguard.demo.run import copy_policy_files
from trainguard.store import Store

TRAINGUARD = str(Path(sys.executable).with_name("trainguard"))
DECISION = {
    "categories": ["customer.chat"],
    "use": "train.first_party",
    "collected_at": "2023-05-01",
    "subjects": ["person-7"],
    "at": "2023-08-09",
    "id": "chat-1",
}


def prepare(url: str, consent: int) -> str:
    """A store with v1-v3, acme under them, ``consent`` events, and a service key."""
    store = Store(url)
    store.init()
    folder = Path(tempfile.mkdtemp())
    files = sorted(copy_policy_files(folder))[:3]
    store.add_policies([(load_policy_file(f), str(f)) for f in files])
    store.assign_tenant("acme", "meetco-terms")
    v2 = store.policy_set().resolve("2023-08-07").hash
    start = datetime(2023, 8, 8, tzinfo=UTC)
    events = [
        ConsentEvent.model_validate(
            {
                "tenant": "acme",
                "kind": "grant",
                "subject": f"person-{i}",
                "role": "self",
                "categories": ["customer.chat"],
                "uses": ["train.*"],
                "mode": "explicit",
                "policy_version": v2,
                "at": start + timedelta(seconds=i),
            }
        )
        for i in range(consent)
    ]
    for i in range(0, len(events), 10_000):
        store.add_consent_events(events[i : i + 10_000])
    token = create_key(store, "service", "acme")[1]
    store.engine.dispose()
    shutil.rmtree(folder)
    return token


def floor(url: str, token: str, seconds: float) -> float:
    """Decisions/s in process through the application layer's cached context, no HTTP
    and no log entry: what the service could at most approach."""
    from trainguard.decision.decide import Record, decide
    from trainguard.timeutil import parse_instant

    application = Application(url)
    ctx = application.context()
    record = Record(
        "chat-1", "acme", ("customer.chat",), parse_instant("2023-05-01", "c"), ("person-7",)
    )
    at = parse_instant("2023-08-09", "at")
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(200):
            decide(ctx, record, "train.first_party", at)
        n += 200
    rate = n / (time.perf_counter() - start)
    application.store.engine.dispose()
    return rate


def _request_bytes(path: str, token: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


async def _connection(
    host: str, port: int, request: bytes, deadline: float, limit: int
) -> tuple[list[float], int]:
    """One keep-alive connection sending ``request`` again and again: latencies
    of the answers, and how many were not 200 (or never came)."""
    latencies: list[float] = []
    errors = 0
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
    try:
        while time.perf_counter() < deadline and len(latencies) < limit:
            t0 = time.perf_counter()
            try:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                ok = status == 200
            except (OSError, asyncio.IncompleteReadError, ValueError):
                ok = False
            latencies.append(time.perf_counter() - t0)
            errors += not ok
            if not ok:  # start over on a new connection
                writer.close()
                reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
    finally:
        writer.close()
    return latencies, errors


def _client(args: tuple[str, int, bytes, float, int, int]) -> dict[str, Any]:
    """A load process: ``connections`` keep-alive connections on one event loop."""
    host, port, request, seconds, connections, max_requests = args
    per_connection = max(1, max_requests // connections)

    async def run() -> list[tuple[list[float], int]]:
        deadline = time.perf_counter() + seconds
        jobs = [
            _connection(host, port, request, deadline, per_connection) for _ in range(connections)
        ]
        return await asyncio.gather(*jobs)

    began = time.time()
    cpu0 = time.process_time()
    results = asyncio.run(run())
    return {
        "latencies": [x for r in results for x in r[0]],
        "errors": sum(r[1] for r in results),
        "began": began,
        "ended": time.time(),
        "cpu_s": time.process_time() - cpu0,
    }


def load(
    base: str,
    path: str,
    token: str,
    body: dict[str, Any],
    seconds: float,
    procs: int,
    connections: int,
    max_requests: int,
) -> dict[str, Any]:
    host, port = base.removeprefix("http://").split(":")
    request = _request_bytes(path, token, body)
    job = (host, int(port), request, seconds, connections, max_requests // procs)
    with mp.get_context("spawn").Pool(procs) as pool:
        parts = pool.map(_client, [job] * procs)
    # From the first load process's start to the last one's end (not counting
    # the time to start the processes).
    elapsed = max(p["ended"] for p in parts) - min(p["began"] for p in parts)
    latencies = sorted(x for p in parts for x in p["latencies"])
    n = len(latencies)
    cpu = sum(p["cpu_s"] for p in parts)
    return {
        "requests": n,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(n / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 2) if n else None,
        "p99_ms": round(1000 * latencies[int(0.99 * (n - 1))], 2) if n else None,
        "errors": sum(p["errors"] for p in parts),
        "connections": procs * connections,
        "load_generator_cpu_s": round(cpu, 1),
        "load_generator_cores": round(cpu / elapsed, 2),
    }


def family(pid: int) -> list[int]:
    """The server's process and its worker processes (``--workers``)."""
    out = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        out += [q for c in children for q in family(int(c))]
    return out


def cpu_seconds(pid: int) -> float:
    total = 0
    for p in family(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    total = 0
    for p in family(pid):
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return round(total / 1024, 1)


def serve(url: str, workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [TRAINGUARD, "--db", url, "serve", "--port", str(port), "--workers", str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(f"{base}/healthz", timeout=1.0)
            return server, base
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("trainguard serve did not start")


def run_backend(name: str, url: str, opts: argparse.Namespace) -> dict[str, Any]:
    token = prepare(url, opts.consent)
    server, base = serve(url, opts.workers)
    try:
        # Warm up: the first request loads the context (and compiles what needs it).
        httpx.post(
            f"{base}/v1/decisions",
            json=DECISION,
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
        rss_before = rss_mb(server.pid)
        samples: list[float] = []
        stop = threading.Event()

        def sample() -> None:  # the server's memory every 5 s while under load
            while not stop.wait(5.0):
                samples.append(rss_mb(server.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        cpu0 = cpu_seconds(server.pid)
        single = load(
            base,
            "/v1/decisions",
            token,
            DECISION,
            opts.seconds,
            opts.procs,
            opts.connections,
            opts.max_requests,
        )
        cpu1 = cpu_seconds(server.pid)
        single["server_cores"] = round((cpu1 - cpu0) / single["seconds"], 2)
        single["server_cpu_us_per_request"] = round(
            1e6 * (cpu1 - cpu0) / max(single["requests"], 1)
        )
        rss_single = rss_mb(server.pid)
        n = opts.batch
        batch_body = {
            "use": "train.first_party",
            "at": "2023-08-09",
            "records": {
                "id": [f"r{i}" for i in range(n)],
                "categories": [
                    ["customer.chat"] if i % 3 else ["service.telemetry"] for i in range(n)
                ],
                "collected_at": ["2023-05-01"] * n,
                "subjects": [[f"person-{i % 100}"] for i in range(n)],
            },
        }
        batch = load(
            base,
            "/v1/decisions/batch",
            token,
            batch_body,
            opts.seconds,
            1,
            opts.batch_connections,
            opts.max_requests,
        )
        cpu2 = cpu_seconds(server.pid)
        batch["records_per_s"] = round(batch["requests_per_s"] * n)
        batch["records_per_request"] = n
        batch["server_cores"] = round((cpu2 - cpu1) / batch["seconds"], 2)
        rss_after = rss_mb(server.pid)
        stop.set()
        sampler.join()
        metrics = httpx.get(f"{base}/metrics").text
        counters = {
            line.split()[0]: float(line.split()[1])
            for line in metrics.splitlines()
            if line.startswith(("trainguard_context_loads_total", "trainguard_journal_"))
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
    log_size = Store(url).audit.size()
    return {
        "backend": name,
        "consent_events": opts.consent,
        "single": single,
        "batch": batch,
        "audit_log_entries_after": log_size,
        "server_rss_mb": {
            "after_warmup": rss_before,
            "after_single": rss_single,
            "after_batch": rss_after,
            "every_5s_under_load": samples,
        },
        "context_loads": counters.get("trainguard_context_loads_total"),
        "journal": {
            "commits": counters.get("trainguard_journal_commits_total"),
            "entries": counters.get("trainguard_journal_entries_total"),
            "redone": counters.get("trainguard_journal_redone_total"),
        },
        "in_process_decide_per_s": round(floor(url, token, 3.0)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0, help="per load run")
    parser.add_argument("--procs", type=int, default=1, help="load-generating processes")
    parser.add_argument(
        "--connections", type=int, default=32, help="keep-alive connections per process"
    )
    parser.add_argument("--batch-connections", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000, help="records per batch request")
    parser.add_argument("--consent", type=int, default=20_000, help="consent events on record")
    parser.add_argument(
        "--db",
        default=None,
        help="a PostgreSQL URL (run in a fresh schema, dropped after); default: a new SQLite file",
    )
    opts = parser.parse_args()
    results = []
    tmp = Path(tempfile.mkdtemp())
    try:
        if not opts.db:
            results.append(run_backend("sqlite", f"sqlite:///{tmp / 'bench.db'}", opts))
        else:
            schema = f"tg_bench_{uuid.uuid4().hex[:8]}"
            admin = Store(opts.db).engine
            with admin.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            sep = "&" if "?" in opts.db else "?"
            url = f"{opts.db}{sep}options=-csearch_path%3D{schema}"
            try:
                results.append(run_backend("postgresql", url, opts))
            finally:
                with admin.begin() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                admin.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    emit(
        "http",
        {
            "command": "python bench/bench_http.py " + " ".join(sys.argv[1:]),
            "load_average": os.getloadavg(),
            "settings": {k: v for k, v in vars(opts).items() if k != "db"},
            "results": results,
        },
    )
    json.dumps(results)  # everything above is plain JSON


if __name__ == "__main__":
    main()
