"""notice, summary and report commands."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..errors import InputError
from ..timeutil import format_instant, parse_instant
from ._app import app, command_group, console, open_store
from .core import resolve_version

notice_app = command_group("Notices people are shown, and when each was served and acknowledged.")
app.add_typer(notice_app, name="notice")


def _format(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InputError(f"--format {value!r}: use {' or '.join(allowed)}")
    return value


@notice_app.command("render")
def notice_render(
    ctx: typer.Context,
    version: str = typer.Argument(..., help="A stored version (as for policy show) or a file."),
    audience: str = typer.Option("participant", "--audience", help="participant or admin."),
    fmt: str = typer.Option("text", "--format", help="text, html or json."),
    out: Path | None = typer.Option(None, "--out", help="Write it here instead of printing it."),
) -> None:
    """A plain-language notice of these terms, kind of content by kind, with its id."""
    from ..app.notices import CLI_FIELDS, render
    from ..explain.notices import FORMATS, notice_html, notice_text

    fmt = _format(fmt, FORMATS)
    notice = render(open_store(ctx), resolve_version(ctx, version), audience, CLI_FIELDS)
    if fmt == "json":
        text = json.dumps(notice.to_json(), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "html":
        text = notice_html(notice)
    else:
        text = notice_text(notice)
    if out is None:
        console.print(text, markup=False, end="", soft_wrap=True)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write ({exc.strerror})") from None
    console.print(f"wrote {out} (notice {notice.id})", markup=False)


def _record(ctx: typer.Context, kind: str, notice_id: str, tenant: str, subject: str,
            at: str | None) -> None:  # fmt: skip
    from ..app.access import Principal
    from ..app.notices import CLI_FIELDS, record

    when = parse_instant(at, "--at") if at else None
    event, added = record(
        Principal.local(), open_store(ctx), kind, notice_id, tenant, subject, when, CLI_FIELDS
    )
    state = "recorded" if added else "already on record"
    console.print(
        f"{event.id}  notice {event.notice_id} {kind}: {tenant}/{subject} at "
        f"{format_instant(event.at)}  {state}",
        markup=False,
    )


_TENANT = typer.Option(..., "--tenant")
_AT = typer.Option(None, "--at", help="ISO 8601 time (default: now).")


@notice_app.command("serve")
def notice_serve(
    ctx: typer.Context,
    notice_id: str = typer.Argument(..., help="The id `notice render` printed."),
    tenant: str = _TENANT,
    subject: str = typer.Option(..., "--subject", help="The person shown the notice."),
    at: str | None = _AT,
) -> None:
    """Record that a person was shown a notice (this is not consent)."""
    _record(ctx, "served", notice_id, tenant, subject, at)


@notice_app.command("ack")
def notice_ack(
    ctx: typer.Context,
    notice_id: str = typer.Argument(..., help="A notice served to this person."),
    tenant: str = _TENANT,
    subject: str = typer.Option(..., "--subject", help="The person acknowledging it."),
    at: str | None = _AT,
) -> None:
    """Record that a person acknowledged a notice served to them (this is not consent)."""
    _record(ctx, "acknowledged", notice_id, tenant, subject, at)


@notice_app.command("list")
def notice_list(
    ctx: typer.Context,
    tenant: str | None = typer.Option(None, "--tenant"),
    subject: str | None = typer.Option(None, "--subject"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Notices served and acknowledged, in the order they were recorded."""
    from rich.table import Table

    from ..app.access import Principal
    from ..app.notices import CLI_FIELDS, event_json, events

    store = open_store(ctx)
    found = events(Principal.local(), store, tenant, subject, CLI_FIELDS)
    labels = {h: p.version.label for h, p in store.policy_set().by_hash.items()}
    if as_json:
        console.print(json.dumps([event_json(e, n) for e, n in found], indent=2), markup=False)
        return
    table = Table("id", "at", "kind", "tenant", "subject", "notice", "terms", "audience")
    for e, n in found:
        table.add_row(
            e.id,
            format_instant(e.at),
            e.kind,
            e.tenant,
            e.subject,
            e.notice_id,
            labels.get(n.policy_version, n.policy_version[:12]),
            n.audience,
        )
    console.print(table)


# --- summary and report ---------------------------------------------------------------------


def _write(out: Path, text: str, what: str) -> None:
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write ({exc.strerror})") from None
    console.print(f"wrote {out} ({what})", markup=False)


@app.command("summary")
def summary_cmd(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", help="A model registered with `model register`."),
    fmt: str = typer.Option("json", "--format", help="json or html."),
    provider: str | None = typer.Option(None, "--provider", help="The provider's name."),
    contact: str | None = typer.Option(None, "--contact", help="How to contact the provider."),
    tenant: str | None = typer.Option(
        None, "--tenant", help="Count this tenant's records only (its part of the summary)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write it here instead of printing it."),
) -> None:
    """A public summary of a model's training content (EU AI Office template, Art. 53(1)(d)
    AI Act), every number counted from the model's manifests."""
    from ..app.access import Principal
    from ..app.reports import summary
    from ..explain.summary import summary_html

    fmt = _format(fmt, ("json", "html"))
    data = summary(
        Principal.local(), open_store(ctx), model, provider, contact, tenant,
        model_field="--model", tenant_field="--tenant",
    )  # fmt: skip
    text = (
        json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        if fmt == "json"
        else summary_html(data)
    )
    if out is None:
        console.print(text, markup=False, end="", soft_wrap=True)
    else:
        _write(out, text, f"training summary of {model}")


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="The HTML file to write."),
    tenant: str | None = typer.Option(
        None, "--tenant", help="Only what is about this tenant (its part of the report)."
    ),
) -> None:
    """One self-contained HTML file for an auditor: decisions, gate runs, scans, models and
    their impact, the latest signed checkpoint; charts inline, nothing fetched."""
    from ..app.access import Principal
    from ..app.reports import report
    from ..explain.report import report_html

    facts = report(Principal.local(), open_store(ctx), tenant, tenant_field="--tenant")
    try:
        out.write_text(report_html(facts), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write ({exc.strerror})") from None
    console.print(
        f"wrote {out}: {facts.log_size:,} log entries, {len(facts.decisions):,} decisions, "
        f"{len(facts.gate_runs)} gate runs, {len(facts.scans)} scans, {len(facts.models)} models",
        markup=False,
    )
