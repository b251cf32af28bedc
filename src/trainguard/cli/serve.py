"""serve: the HTTP service (trainguard.http) under uvicorn."""

from __future__ import annotations

from pathlib import Path

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
) -> None:
    """Serve decisions, scans and audit proofs over HTTP (needs the server extra)."""
    try:
        import uvicorn

        from ..http import create_app
    except ImportError:
        raise InputError("serve needs the server extra: pip install 'trainguard[server]'") from None
    if not 0 < port < 65536:
        raise InputError(f"--port {port}: must be between 1 and 65535")
    from ..gateway import HttpAccessHook, Providers, load_acl, load_providers
    from ..http.gateway import configure

    if acl is not None and access_hook is not None:
        raise InputError("--acl and --access-hook: give one access check, not both")
    access = load_acl(acl) if acl else HttpAccessHook(access_hook) if access_hook else None
    allowlist = load_providers(providers) if providers else Providers()
    db = (ctx.find_root().obj or {}).get("db")
    service = create_app(db, registry, keys)
    configure(service, access, allowlist)
    uvicorn.run(service, host=host, port=port, log_level="info")
