"""serve: the HTTP service (trainguard.http) under uvicorn."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from ..errors import InputError
from ._app import KEYS_HELP, REGISTRY_HELP, app


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port"),
    registry: Path | None = typer.Option(None, "--registry", help=REGISTRY_HELP),
    keys: Path | None = typer.Option(None, "--keys", help=KEYS_HELP),
    acl: Path | None = typer.Option(
        None, "--acl", help="The AI gateway's access list file (else --access-hook)."
    ),
    access_hook: str | None = typer.Option(
        None, "--access-hook", help="The platform's access-check URL for the AI gateway."
    ),
    providers: Path | None = typer.Option(
        None, "--providers", help="The AI gateway's provider allowlist file."
    ),
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
    if acl is not None and access_hook is not None:
        raise InputError("--acl and --access-hook: give one access check, not both")
    if workers > 1 and (acl or access_hook or providers):
        # Worker processes build their service from environment variables that do
        # not carry the gateway's configuration: refuse rather than serve without it.
        raise InputError(
            "--workers: the AI gateway's --acl/--access-hook/--providers need --workers 1"
        )
    from ..gateway import HttpAccessHook, Providers, load_acl, load_providers
    from ..http.gateway import configure

    access = load_acl(acl) if acl else HttpAccessHook(access_hook) if access_hook else None
    allowlist = load_providers(providers) if providers else Providers()
    db = (ctx.find_root().obj or {}).get("db")
    service = create_app(db, registry, keys)  # bad arguments fail here, in one line
    configure(service, access, allowlist)
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
