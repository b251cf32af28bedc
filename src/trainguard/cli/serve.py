"""serve: the HTTP service (trainguard.http) under uvicorn."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from ..errors import InputError
from ._app import app
from .scan import KEYS_HELP, REGISTRY_HELP


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port"),
    registry: Path | None = typer.Option(None, "--registry", help=REGISTRY_HELP),
    keys: Path | None = typer.Option(None, "--keys", help=KEYS_HELP),
    workers: int = typer.Option(
        1,
        "--workers",
        help="Server processes sharing the port (each its own writer and cache; one log).",
    ),
    access_log: bool = typer.Option(
        False,
        "--access-log/--no-access-log",
        help="Log a line per request (off by default: it costs more than a decision).",
    ),
) -> None:
    """Serve decisions, scans and audit proofs over HTTP (needs the server extra)."""
    try:
        import uvicorn

        from ..http import create_app
        from ..http.workers import MAX_WORKERS, WORKER_DB, WORKER_KEYS, WORKER_REGISTRY
    except ImportError:
        raise InputError("serve needs the server extra: pip install 'trainguard[server]'") from None
    if not 0 < port < 65536:
        raise InputError(f"--port {port}: must be between 1 and 65535")
    if not 1 <= workers <= MAX_WORKERS:
        raise InputError(f"--workers {workers}: must be between 1 and {MAX_WORKERS}")
    db = (ctx.find_root().obj or {}).get("db")
    service = create_app(db, registry, keys)  # bad arguments fail here, in one line
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "access_log": access_log,
    }
    if workers == 1:
        uvicorn.run(service, **options)
        return
    # Worker processes build their own service from the same arguments.
    for name, value in ((WORKER_DB, db), (WORKER_REGISTRY, registry), (WORKER_KEYS, keys)):
        if value is not None:
            os.environ[name] = str(value)
    uvicorn.run("trainguard.http.app:app_for_worker", factory=True, workers=workers, **options)
