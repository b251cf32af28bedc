"""serve: the HTTP service (trainguard.http) under uvicorn."""

from __future__ import annotations

from pathlib import Path

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
    except ImportError:
        raise InputError("serve needs the server extra: pip install 'trainguard[server]'") from None
    if not 0 < port < 65536:
        raise InputError(f"--port {port}: must be between 1 and 65535")
    db = (ctx.find_root().obj or {}).get("db")
    uvicorn.run(
        create_app(db, registry, keys),
        host=host,
        port=port,
        log_level="info",
        access_log=access_log,
    )
