"""summarize and ask: the AI features, through the inference gateway.

Both read the records a feature would use from a JSON file (their metadata and
text), decide them for the purpose at the time of the request, keep what the
requesting user may see (``--acl`` file or ``--access-hook`` URL), and print
the output with its citations. The audit log gets one entry: ids, decisions
and digests, never the text. Heavy imports stay inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from ..errors import InputError
from ._app import app, console, open_store

RECORDS_HELP = (
    'JSON file: a list of records {"id", "categories", "collected_at", "subjects", '
    '"container", "text" or "turns": [{"speaker", "text"}]} (or {"records": [...]}).'
)


def _run(
    ctx: typer.Context,
    feature: str,
    records: Path,
    tenant: str,
    user: str,
    purpose: str,
    provider: str,
    providers: Path | None,
    acl: Path | None,
    access_hook: str | None,
    at: str | None,
    question: str | None,
    as_json: bool,
) -> None:
    from ..app.gateway import serve_feature
    from ..gateway import GatewayRequest, HttpAccessHook, Providers, load_acl, load_providers
    from ..limits import read_json_file

    if acl is not None and access_hook is not None:
        raise InputError("--acl and --access-hook: give one access check, not both")
    request = GatewayRequest(tenant, user, feature, purpose, provider)
    data: Any = read_json_file(records, str(records))
    if isinstance(data, dict) and set(data) == {"records"}:
        data = data["records"]
    access = load_acl(acl) if acl else HttpAccessHook(access_hook) if access_hook else None
    allowlist = load_providers(providers) if providers else Providers()
    store = open_store(ctx)
    out = serve_feature(
        store.context(), store.audit.record, access, allowlist, request, data, question, at
    )
    if as_json:
        console.print(json.dumps(out, ensure_ascii=False), markup=False)
        return
    console.print(out["text"], markup=False)
    used = sum(1 for d in out["decisions"] if d["used"])
    console.print(
        f"({used} of {len(out['decisions'])} records used; output {out['record']['id']}, "
        f"audit entry {out['audit_index']})",
        markup=False,
    )


# The request's options, the same for both features.
TENANT = typer.Option(..., "--tenant", help="The tenant the records belong to.")
USER = typer.Option(..., "--user", help="The person asking: only what they may see is used.")
PURPOSE = typer.Option("infer.feature", "--purpose", help="infer.feature or infer.third_party.")
PROVIDER = typer.Option(
    "local", "--provider", help="The model provider (on the tenant's allowlist)."
)
PROVIDERS = typer.Option(
    None, "--providers", help="Provider allowlist file (default: only the built-in local provider)."
)
ACL = typer.Option(
    None, "--acl", help='Access list file: {tenant: {container or id: [users] or "*"}}.'
)
ACCESS_HOOK = typer.Option(None, "--access-hook", help="The platform's access-check URL (POST).")
AT = typer.Option(None, "--at", help="Time of use (default: now).")
AS_JSON = typer.Option(False, "--json")


@app.command("summarize")
def summarize(
    ctx: typer.Context,
    records: Path = typer.Argument(..., help=RECORDS_HELP),
    tenant: str = TENANT,
    user: str = USER,
    purpose: str = PURPOSE,
    provider: str = PROVIDER,
    providers: Path | None = PROVIDERS,
    acl: Path | None = ACL,
    access_hook: str | None = ACCESS_HOOK,
    at: str | None = AT,
    as_json: bool = AS_JSON,
) -> None:
    """An extractive summary of the records the user may see, every source cited."""
    _run(
        ctx,
        "summary",
        records,
        tenant,
        user,
        purpose,
        provider,
        providers,
        acl,
        access_hook,
        at,
        None,
        as_json,
    )


@app.command("ask")
def ask(
    ctx: typer.Context,
    records: Path = typer.Argument(..., help=RECORDS_HELP),
    question: str = typer.Option(..., "--question", "-q", help="The question."),
    tenant: str = TENANT,
    user: str = USER,
    purpose: str = PURPOSE,
    provider: str = PROVIDER,
    providers: Path | None = PROVIDERS,
    acl: Path | None = ACL,
    access_hook: str | None = ACCESS_HOOK,
    at: str | None = AT,
    as_json: bool = AS_JSON,
) -> None:
    """The turns that answer a question, from the records the user may see, cited."""
    _run(
        ctx,
        "question",
        records,
        tenant,
        user,
        purpose,
        provider,
        providers,
        acl,
        access_hook,
        at,
        question,
        as_json,
    )
