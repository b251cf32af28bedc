"""apikey commands: the keys of the HTTP service (the secret shown once)."""

from __future__ import annotations

import json

import typer

from ..app.access import ROLES
from ._app import app, command_group, console, open_store

apikey_app = command_group("API keys of the HTTP service.")
app.add_typer(apikey_app, name="apikey")


@apikey_app.command("create")
def create(
    ctx: typer.Context,
    role: str = typer.Option(..., "--role", help=f"One of {', '.join(ROLES)}."),
    tenant: str | None = typer.Option(
        None, "--tenant", help="The tenant the key acts for (every role but operator)."
    ),
    name: str = typer.Option("", "--name", help="A label to tell keys apart (not logged)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create a key and print its secret: once; only its hash is stored."""
    from ..app.apikeys import create_key

    key, token = create_key(open_store(ctx), role, tenant, name)
    if as_json:
        console.print(json.dumps({**key.to_json(), "token": token}), markup=False)
        return
    console.print(f"key {key.id}: {key.role} of {key.tenant or 'the platform'}", markup=False)
    console.print(token, markup=False)
    console.print("(the secret is shown only now: keep it)", markup=False)


@apikey_app.command("list")
def list_(
    ctx: typer.Context,
    tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant's keys."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The keys on record (never their secrets)."""
    from ..app.apikeys import list_keys

    keys = list_keys(open_store(ctx), tenant)
    if as_json:
        console.print(json.dumps([k.to_json() for k in keys]), markup=False)
        return
    for k in keys:
        state = f"revoked {k.to_json()['revoked_at']}" if k.revoked_at else "active"
        line = f"{k.id}  {k.role:<8}  {k.tenant or '-':<20}  {state}  {k.name}"
        console.print(line.rstrip(), markup=False)


@apikey_app.command("revoke")
def revoke(ctx: typer.Context, key_id: str = typer.Argument(..., help="The key's id.")) -> None:
    """Revoke a key: refused from the service's next request on."""
    from ..app.apikeys import revoke_key

    key = revoke_key(open_store(ctx), key_id)
    console.print(f"key {key.id} revoked", markup=False)
