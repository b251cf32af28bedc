"""init, policy, tenant, taxonomy, consent and decide commands."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..decision.identity import check_record_id, check_subject, check_tenant
from ..errors import InputError
from ..limits import is_file
from ..timeutil import format_instant, parse_instant
from ._app import app, command_group, console, open_store, split_csv, split_identities

if TYPE_CHECKING:
    from ..decision.consent import ConsentEvent
    from ..decision.policy import PolicyVersion

policy_app = command_group("Versions of the terms.")
tenant_app = command_group("Which terms each tenant is under.")
taxonomy_app = command_group("Categories of data and uses of data.")
consent_app = command_group("The append-only consent ledger.")
app.add_typer(policy_app, name="policy")
app.add_typer(tenant_app, name="tenant")
app.add_typer(taxonomy_app, name="taxonomy")
app.add_typer(consent_app, name="consent")


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the store (or upgrade its schema)."""
    from .audit import pin_configured_key

    store = open_store(ctx, ready=False)
    store.init()
    console.print(f"initialized {store.display_url}")
    pinned = pin_configured_key(store)
    if pinned:
        console.print(pinned, markup=False)


# --- policy -------------------------------------------------------------------------------


@policy_app.command("add")
def policy_add(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="Policy YAML files."),
) -> None:
    """Validate policy files and add them; all or nothing."""
    from ..decision.policy import load_policy_file

    store = open_store(ctx)
    taxonomy = store.taxonomy()
    versions = [(load_policy_file(f, taxonomy), str(f)) for f in files]
    for (version, _), (h, added) in zip(versions, store.add_policies(versions), strict=True):
        state = "added" if added else "already present"
        console.print(
            f"{version.label}  {h[:12]}  effective {format_instant(version.effective_at)}  {state}"
        )


@policy_app.command("list")
def policy_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """List every version, by family and effective time."""
    from rich.table import Table

    store = open_store(ctx)
    ps = store.policy_set()
    rows = [
        {
            "family": p.version.family,
            "version": p.version.version,
            "hash": p.hash,
            "effective_at": format_instant(p.version.effective_at),
            "rules": len(p.version.rules),
            "default": p.version.default,
            "is_default_family": p.version.family == ps.default_family,
        }
        for fam in sorted(ps.families)
        for p in ps.families[fam]
    ]
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table("family", "version", "hash", "effective at", "rules", "default")
    for r in rows:
        fam = f"{r['family']} (default)" if r["is_default_family"] else str(r["family"])
        table.add_row(
            fam,
            str(r["version"]),
            str(r["hash"])[:12],
            str(r["effective_at"]),
            str(r["rules"]),
            str(r["default"]),
        )
    console.print(table)
    if ps.default_family is None:
        console.print(
            "no default family: a tenant not assigned one is denied (UNKNOWN_TENANT); "
            "`trainguard policy default FAMILY` sets one"
        )


@policy_app.command("show")
def policy_show(
    ctx: typer.Context,
    version: str = typer.Argument(..., help="hash, prefix, version or family@version"),
) -> None:
    """Print one version as YAML, with its hash."""
    import yaml

    store = open_store(ctx)
    p = store.policy_set().resolve(version)
    console.print(f"# hash: {p.hash}")
    console.print(
        yaml.safe_dump(p.version.canonical(), sort_keys=False, allow_unicode=True), end=""
    )


def resolve_version(ctx: typer.Context, ref: str) -> PolicyVersion:
    """A stored version (hash, prefix, version or family@version) or a policy file (a
    draft not yet added: what would the new terms change?)."""
    from ..decision.policy import load_policy_file

    store = open_store(ctx)
    if is_file(ref):
        return load_policy_file(ref, store.taxonomy())
    return store.policy_set().resolve(ref).version


@policy_app.command("notice")
def policy_notice(
    ctx: typer.Context,
    version: str = typer.Argument(..., help="A stored version (as for show) or a policy file."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """What these terms allow, use by use, in plain language, with the rules that say so."""
    from ..explain import notice, notice_lines

    taxonomy = open_store(ctx).taxonomy()
    data = notice(resolve_version(ctx, version), taxonomy)
    if as_json:
        console.print(json.dumps(data, indent=2, ensure_ascii=False), markup=False)
        return
    for line in notice_lines(data, taxonomy):
        console.print(line, markup=False, soft_wrap=True)


@policy_app.command("diff")
def policy_diff(
    ctx: typer.Context,
    old: str = typer.Argument(..., help="The earlier version (stored, or a policy file)."),
    new: str = typer.Argument(..., help="The later version (stored, or a policy file)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Which answers changed between two versions of the terms: every (category, use)
    whose effect or consent requirement differs, grouped, in plain language."""
    from ..explain import diff, diff_lines

    taxonomy = open_store(ctx).taxonomy()
    before, after = resolve_version(ctx, old), resolve_version(ctx, new)
    changes = diff(before, after, taxonomy)
    if as_json:
        console.print(json.dumps([c.to_json() for c in changes], indent=2), markup=False)
        return
    for line in diff_lines(before, after, changes, taxonomy):
        console.print(line, markup=False, soft_wrap=True)


@policy_app.command("default")
def policy_default(
    ctx: typer.Context,
    family: str | None = typer.Argument(None, help="The family; omit it with --none."),
    none: bool = typer.Option(
        False, "--none", help="No default: unassigned tenants are denied (UNKNOWN_TENANT)."
    ),
) -> None:
    """Make FAMILY the terms of every tenant not assigned another. Without a default
    (the state of a new store: adding policies never sets one), a tenant that is
    not assigned is denied with UNKNOWN_TENANT."""
    if (family is None) == (not none):
        raise InputError("policy default: give a FAMILY or --none, not both or neither")
    open_store(ctx).set_default_family(family)
    console.print(f"default family: {family}" if family else "no default family")


@tenant_app.command("assign")
def tenant_assign(ctx: typer.Context, tenant: str, family: str) -> None:
    """Put TENANT under FAMILY (an enterprise contract). TENANT: lower-case ASCII
    letters, digits and single '.', '_', '-' between them (1-64)."""
    open_store(ctx).assign_tenant(tenant, family)
    console.print(f"tenant {tenant}: {family}")


# --- taxonomy -----------------------------------------------------------------------------


@taxonomy_app.command("show")
def taxonomy_show(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Categories and uses, with their fideslang and CAWG counterparts."""
    from rich.table import Table

    from ..decision.taxonomy import CAWG_USES, FIDESLANG_CATEGORIES, FIDESLANG_USES

    tax = open_store(ctx).taxonomy()
    data = {
        "categories": {
            k: {"description": v, "fideslang": FIDESLANG_CATEGORIES.get(k)}
            for k, v in tax.categories.items()
        },
        "uses": {
            k: {"description": v, "fideslang": FIDESLANG_USES.get(k), "cawg": CAWG_USES.get(k)}
            for k, v in tax.uses.items()
        },
    }
    if as_json:
        console.print_json(json.dumps(data))
        return
    for kind in ("categories", "uses"):
        table = Table(
            kind[:-1] if kind == "uses" else "category",
            "description",
            "fideslang",
            *(["cawg"] if kind == "uses" else []),
        )
        for k, v in data[kind].items():
            row = [k, str(v["description"]), str(v.get("fideslang") or "—")]
            if kind == "uses":
                row.append(str(v.get("cawg") or "—"))
            table.add_row(*row)
        console.print(table)


@taxonomy_app.command("add")
def taxonomy_add(ctx: typer.Context, file: Path) -> None:
    """Add categories and uses from a YAML file: {categories: {key: text}, uses: {key: text}}."""
    from ..yamlfile import parse_yaml, read_text

    text = read_text(file)
    try:
        data, _ = parse_yaml(text)
    except InputError as exc:
        raise InputError(f"{file}: {exc}") from None
    if not isinstance(data, dict) or set(data) - {"categories", "uses"}:
        raise InputError(f"{file}: expected only the keys 'categories' and 'uses'")
    cats = data.get("categories") or {}
    uses = data.get("uses") or {}
    if not isinstance(cats, dict) or not isinstance(uses, dict):
        raise InputError(f"{file}: 'categories' and 'uses' must map keys to descriptions")
    try:
        n = open_store(ctx).extend_taxonomy(
            {str(k): str(v) for k, v in cats.items()}, {str(k): str(v) for k, v in uses.items()}
        )
    except InputError as exc:
        raise InputError(f"{file}: {exc}") from None
    console.print(f"added {n} keys")


# --- consent ------------------------------------------------------------------------------


def _event_from_options(
    ctx: typer.Context,
    kind: str,
    tenant: str,
    subject: str,
    role: str,
    categories: list[str],
    uses: list[str],
    mode: str | None,
    policy_version: str,
    at: str | None,
    notice_id: str | None,
) -> ConsentEvent:
    from ..decision.consent import parse_event

    check_tenant(tenant, "--tenant")
    check_subject(subject, "--subject")
    store = open_store(ctx)
    version = store.policy_set().resolve(policy_version)
    when = parse_instant(at, "--at") if at else datetime.now().astimezone()
    data = {
        "tenant": tenant,
        "kind": kind,
        "subject": subject,
        "role": role,
        "categories": split_csv(categories),
        "uses": split_csv(uses),
        "mode": mode,
        "policy_version": version.hash,
        "notice_id": notice_id,
        "at": format_instant(when),
    }
    return parse_event(
        {k: v for k, v in data.items() if v is not None}, "consent", store.taxonomy()
    )


_ROLE = typer.Option(
    ..., "--role", help="account_admin (for the whole tenant) or self (own content)."
)
_CATS = typer.Option(..., "--categories", help="Category patterns, P[,P].")
_USES = typer.Option(..., "--uses", help="Use patterns, P[,P].")
_PV = typer.Option(..., "--policy-version", help="Version the consent is given under.")
_ALLOW_UNMATCHED = typer.Option(
    False,
    "--allow-unmatched",
    help="Record a withdrawal even if it ends no grant on record (consent given elsewhere).",
)


@consent_app.command("grant")
def consent_grant(
    ctx: typer.Context,
    tenant: str = typer.Option(..., "--tenant"),
    subject: str = typer.Option(..., "--subject", help="The person giving consent (a user id)."),
    role: str = _ROLE,
    categories: list[str] = _CATS,
    uses: list[str] = _USES,
    mode: str = typer.Option(..., "--mode", help="explicit or implied."),
    policy_version: str = _PV,
    at: str | None = typer.Option(None, "--at", help="ISO 8601 time (default: now)."),
    notice_id: str | None = typer.Option(None, "--notice-id"),
) -> None:
    """Record a grant of consent."""
    event = _event_from_options(
        ctx, "grant", tenant, subject, role, categories, uses, mode, policy_version, at, notice_id
    )
    added, _ = _add_events(ctx, [event], allow_unmatched=False)
    console.print(f"{event.event_id}  {'recorded' if added else 'already on record'}")


@consent_app.command("withdraw")
def consent_withdraw(
    ctx: typer.Context,
    tenant: str = typer.Option(..., "--tenant"),
    subject: str = typer.Option(..., "--subject", help="The person withdrawing consent."),
    role: str = _ROLE,
    categories: list[str] = _CATS,
    uses: list[str] = _USES,
    mode: str | None = typer.Option(
        None, "--mode", help="Ignored for withdrawals; accepted for symmetry."
    ),
    policy_version: str = _PV,
    at: str | None = typer.Option(None, "--at", help="ISO 8601 time (default: now)."),
    notice_id: str | None = typer.Option(None, "--notice-id"),
    allow_unmatched: bool = _ALLOW_UNMATCHED,
) -> None:
    """Record a withdrawal of consent. Refused when it would end no grant on record
    (same tenant and role, the same subject for role self, given at or before it,
    covering some of the same categories and uses)."""
    event = _event_from_options(
        ctx,
        "withdraw",
        tenant,
        subject,
        role,
        categories,
        uses,
        mode,
        policy_version,
        at,
        notice_id,
    )
    added, _ = _add_events(ctx, [event], allow_unmatched)
    console.print(f"{event.event_id}  {'recorded' if added else 'already on record'}")


def _add_events(
    ctx: typer.Context, events: list[ConsentEvent], allow_unmatched: bool
) -> tuple[int, int]:
    from ..app.access import Principal
    from ..app.consent import record_consent

    return record_consent(
        Principal.local(),
        open_store(ctx),
        events,
        allow_unmatched=allow_unmatched,
        override="--allow-unmatched",
    )


@consent_app.command("list")
def consent_list(
    ctx: typer.Context,
    tenant: str | None = typer.Option(None, "--tenant"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List consent events in the order they were recorded."""
    from rich.table import Table

    from ..canonical import canonical_json

    if tenant is not None:
        check_tenant(tenant, "--tenant")
    events = open_store(ctx).consent_events(tenant)
    if as_json:
        for e in events:
            console.print(
                canonical_json({"id": e.event_id, **e.canonical()}).decode(), markup=False
            )
        return
    table = Table(
        "id", "at", "tenant", "kind", "subject", "role", "categories", "uses", "mode", "policy"
    )
    for e in events:
        table.add_row(
            e.event_id,
            format_instant(e.at),
            e.tenant,
            e.kind,
            e.subject,
            e.role,
            ",".join(e.categories),
            ",".join(e.uses),
            e.mode or "",
            e.policy_version[:12],
        )
    console.print(table)


@consent_app.command("import")
def consent_import(
    ctx: typer.Context, file: Path, allow_unmatched: bool = _ALLOW_UNMATCHED
) -> None:
    """Import events from JSONL; every line is checked before anything is written:
    one JSON object a line (at most 64 KiB), no duplicate keys, no control or
    format characters, at most 100,000 events a file, withdrawals that end a grant."""
    from ..app.consent import events_from_file

    events = events_from_file(open_store(ctx), file)
    added, present = _add_events(ctx, events, allow_unmatched)
    console.print(f"{file}: {added} events recorded, {present} already on record")


# --- decide -------------------------------------------------------------------------------


@app.command("decide")
def decide_cmd(
    ctx: typer.Context,
    tenant: str = typer.Option(..., "--tenant"),
    category: list[str] = typer.Option(
        ..., "--category", help="C[,C]; several mean a derived record."
    ),
    use: str = typer.Option(..., "--use"),
    collected_at: str = typer.Option(..., "--collected-at"),
    subjects: list[str] = typer.Option(
        [], "--subjects", help="A,B: the people whose content it is."
    ),
    at: str | None = typer.Option(None, "--at", help="Time of use (default: now)."),
    record_id: str = typer.Option("-", "--id", help="Record id to echo in the decision."),
    as_json: bool = typer.Option(
        False, "--json", help="Print the decision object (canonical JSON)."
    ),
) -> None:
    """Is this use of this content allowed? Exit 0 allowed, 1 denied, 2 bad input."""
    from ..app.access import Principal
    from ..app.decisions import decide_on_sqlite, decide_on_store
    from ..decision.decide import Record, explain_decision

    # Bounded before anything is decided: the decision, ids and all, goes into the log.
    record = Record(
        check_record_id(record_id, "--id"),
        check_tenant(tenant, "--tenant"),
        tuple(split_csv(category)),
        parse_instant(collected_at, "--collected-at"),
        tuple(check_subject(s, "--subjects") for s in split_identities(subjects)),
    )
    when = parse_instant(at, "--at") if at else None
    from .audit import configured_key

    obj = ctx.find_root().obj or {}
    # A SQLite store is read and written without SQLAlchemy, which would take most
    # of the command's start; a store passed in, PostgreSQL or anything unusual
    # take the store's own path. So does a configured signing key: the entry is then
    # signed at once (a checkpoint needs the log's own code).
    done = None
    if obj.get("store") is None and not configured_key().exists():
        done = decide_on_sqlite(Principal.local(), obj.get("db"), record, use, when)
    if done is None:
        done = decide_on_store(Principal.local(), open_store(ctx), record, use, when)
    decision = done[0]
    # Plain lines through click, not rich: a decision is printed often, from scripts,
    # and loading rich would take longer than making the decision.
    if as_json:
        typer.echo(decision.canonical_bytes().decode())
    else:
        for line in explain_decision(decision):
            typer.echo(line)
    raise typer.Exit(0 if decision.allowed else 1)
