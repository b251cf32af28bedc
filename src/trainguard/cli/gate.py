"""gate, manifest, model and impact commands."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..limits import make_folder, read_json_file, write_output
from ..timeutil import format_instant, parse_instant
from ._app import app, command_group, console, err_console, open_store, real_console

if TYPE_CHECKING:
    from rich.progress import Progress

    from ..sources import Source

manifest_app = command_group("Check and prove gate manifests.")
model_app = command_group("Models and the manifests they were trained on.")
app.add_typer(manifest_app, name="manifest")
app.add_typer(model_app, name="model")


def _progress() -> Progress:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} records"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=real_console(err_console),
        transient=True,
        disable=not err_console.is_terminal,
    )


@app.command("gate")
def gate_cmd(
    ctx: typer.Context,
    sources: list[str] = typer.Argument(
        ..., help="Files, folders, globs or fsspec URLs (Parquet, JSONL, CSV; .gz/.zst too)."
    ),
    use: str = typer.Option(..., "--use", help="The intended use, e.g. train.first_party."),
    out: Path = typer.Option(..., "--out", help="Output folder (data/, manifest.*)."),
    mapping: Path | None = typer.Option(
        None, "--mapping", help="YAML naming the id, tenant, category… columns."
    ),
    at: str | None = typer.Option(None, "--at", help="Time of use (default: now)."),
    fmt: str | None = typer.Option(
        None, "--format", help="parquet, jsonl or csv (default: from file names)."
    ),
    lineage: list[Path] = typer.Option(
        [], "--lineage", help="Earlier gate output folders to look up derived_from ids in."
    ),
    replace: bool = typer.Option(False, "--replace", help="Overwrite an earlier gate output."),
    engine: str = typer.Option(
        "local", "--engine", help="local (this process, streamed) or ray (Ray Data)."
    ),
    scan: bool = typer.Option(
        False, "--scan", help="Also keep out records whose content is in the registry."
    ),
    registry: Path | None = typer.Option(
        None, "--registry", help="Registry for --scan (default: $TRAINGUARD_REGISTRY)."
    ),
    keys: Path | None = typer.Option(
        None, "--keys", help="Keys for --scan (default: $TRAINGUARD_KEYS)."
    ),
) -> None:
    """Admit the records a use may have; write the admitted data and a manifest of all."""
    from ..app.access import Principal
    from ..app.gate import gate

    store = open_store(ctx)
    when = parse_instant(at, "--at") if at else None
    if engine not in ("local", "ray"):
        raise typer.BadParameter(f"--engine {engine!r}: use local or ray")
    options: dict[str, Any] = {
        "mapping": mapping,
        "at": when,
        "replace": replace,
        "lineage": lineage,
        "fmt": fmt,
        "engine": engine,
        "scan": scan,
        "registry": registry,
        "keys": keys,
    }
    if engine == "ray":
        result = gate(Principal.local(), store, sources, use, out, **options)
    else:
        with _progress() as bar:
            task = bar.add_task("gating", total=None, rate="")
            start = time.perf_counter()

            def tick(source: Source, rows: int) -> None:
                bar.advance(task, rows)
                done = bar.tasks[0].completed
                bar.update(task, rate=f"{done / max(time.perf_counter() - start, 1e-9):,.0f}/s")

            result = gate(Principal.local(), store, sources, use, out, progress=tick, **options)
    console.print(
        f"{result.records:,} records: {result.admitted:,} admitted, "
        f"{result.records - result.admitted:,} kept out; manifest root {result.root}",
        markup=False,
    )
    console.print(f"wrote {result.out_dir}/ (audit entry {result.audit_index})", markup=False)


@manifest_app.command("verify")
def manifest_verify(out: Path) -> None:
    """Recompute the Merkle root from manifest.parquet; exit 1 if it is not manifest.json's."""
    from ..gate import verify_manifest

    report = verify_manifest(out)
    console.print(f"ok: {report['rows']:,} rows, root {report['root']}", markup=False)


@manifest_app.command("prove")
def manifest_prove(
    out: Path,
    record_id: str,
    tenant: str | None = typer.Option(
        None, "--tenant", help="Whose record, when tenants share the id."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the proof here."),
) -> None:
    """An inclusion proof that one record's decision is part of the manifest."""
    from ..gate import prove_record

    proof = prove_record(out, record_id, tenant)
    text = json.dumps(proof, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if output:
        write_output(output, text, "--output")
        console.print(f"wrote {output}", markup=False)
    else:
        console.print(text, markup=False, end="")


@manifest_app.command("check-proof")
def manifest_check_proof(proof_file: Path) -> None:
    """Check a proof from `manifest prove` offline; exit 1 if it does not hold."""
    from ..gate.manifest import check_record_proof

    proof = read_json_file(proof_file)
    if not isinstance(proof, dict) or not check_record_proof(proof):
        console.print("invalid: the proof does not lead to its root", markup=False)
        raise typer.Exit(1)
    console.print(
        f"valid: record {proof['row']['id']!r} is row {proof['index']} of a manifest "
        f"with root {proof['root']}",
        markup=False,
    )


# --- models -------------------------------------------------------------------------------


@model_app.command("register")
def model_register(
    ctx: typer.Context,
    name: str,
    manifest: list[Path] = typer.Option(..., "--manifest", help="A gate output folder (repeat)."),
    trained_at: str | None = typer.Option(None, "--trained-at"),
) -> None:
    """Record that a model was trained on the admitted records of these gate outputs."""
    from ..app.access import Principal
    from ..app.models import register

    store = open_store(ctx)
    when = parse_instant(trained_at, "--trained-at") if trained_at else None
    model = register(Principal.local(), store, name, manifest, when)
    records = sum(m.admitted for m in model.manifests)
    console.print(
        f"registered model {name!r}: {records:,} records from {len(model.manifests)} manifest(s)",
        markup=False,
    )


@model_app.command("list")
def model_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Every registered model."""
    from rich.table import Table

    from ..lineage import list_models

    models = list_models(open_store(ctx))
    if as_json:
        console.print(json.dumps([m.to_json() for m in models], indent=2), markup=False)
        return
    table = Table("model", "trained at", "manifests", "records")
    for m in models:
        table.add_row(
            m.name,
            format_instant(m.trained_at) if m.trained_at else "-",
            str(len(m.manifests)),
            f"{sum(p.admitted for p in m.manifests):,}",
        )
    console.print(table)


@model_app.command("show")
def model_show(ctx: typer.Context, name: str) -> None:
    """One model and its manifests (JSON)."""
    from ..lineage import get_model

    model = get_model(open_store(ctx), name)
    console.print(json.dumps(model.to_json(), indent=2), markup=False)


@app.command("impact")
def impact_cmd(
    ctx: typer.Context,
    model: str | None = typer.Option(None, "--model", help="Only this model."),
    at: str | None = typer.Option(None, "--at", help="Decide as of this time (default: now)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON, record ids included."),
    export: Path | None = typer.Option(
        None, "--export", help="Write the affected record ids, one file per model, here."
    ),
) -> None:
    """Which models were trained on records that would now be denied, and which records."""
    from rich.table import Table

    from ..lineage import impact

    store = open_store(ctx)
    when = parse_instant(at, "--at") if at else None
    results = impact(store, model, when)
    if export is not None:
        make_folder(export, "--export")
        for r in results:
            if r.affected:
                write_output(
                    export / f"{_safe(r.name)}.ids.txt",
                    "".join(f"{i}\n" for i in r.record_ids),
                    "--export",
                )
    if as_json:
        console.print(json.dumps([r.to_json() for r in results], indent=2), markup=False)
        return
    table = Table("model", "trained on", "now denied", "by reason")
    for r in results:
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(r.by_reason.items())) or "-"
        table.add_row(r.name, f"{r.records:,}", f"{r.now_denied:,}", reasons)
    console.print(table)
    affected = [r.name for r in results if r.affected]
    if affected:
        console.print(f"affected: {', '.join(affected)}", markup=False)
    else:
        console.print("no model is affected", markup=False)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
