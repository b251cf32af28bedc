"""audit commands: keys, checkpoints, entries, proofs, verification, redaction."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from ..audit.note import Signer, VerifierKey
from ..canonical import canonical_json
from ..errors import InputError
from ._app import app, console, open_store

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")

DEFAULT_KEY = "trainguard-audit.key"


def _key_path(key: Path | None) -> Path:
    return key or Path(os.environ.get("TRAINGUARD_AUDIT_KEY", DEFAULT_KEY))


_KEY = typer.Option(
    None, "--key", help=f"Signing key file (default: $TRAINGUARD_AUDIT_KEY, else ./{DEFAULT_KEY})."
)


def _write_out(data: dict[str, object], out: Path | None) -> None:
    text = json.dumps(data, indent=2, sort_keys=True)
    if out is None:
        console.print(text, markup=False)
    else:
        out.write_text(text + "\n")
        console.print(f"wrote {out}")


@audit_app.command("keygen")
def keygen(
    ctx: typer.Context,
    key: Path | None = _KEY,
    name: str | None = typer.Option(None, "--name", help="Key name (default: the log's origin)."),
) -> None:
    """Create the Ed25519 signing key (mode 0600, never in the database) and KEY.pub."""
    path = _key_path(key)
    signer = Signer.generate(name or open_store(ctx).audit.origin())
    signer.save(path)
    pub = path.with_name(path.name + ".pub")
    pub.write_text(signer.verifier.text + "\n")
    console.print(
        f"signing key: {path} (keep it secret)\npublic key:  {pub}\n{signer.verifier.text}",
        markup=False,
    )


@audit_app.command("pubkey")
def pubkey(key: Path | None = _KEY) -> None:
    """Print the verifier (public) key of a signing key."""
    console.print(Signer.load(_key_path(key)).verifier.text, markup=False)


@audit_app.command("checkpoint")
def checkpoint(ctx: typer.Context, key: Path | None = _KEY) -> None:
    """Sign the current tree head (C2SP signed note) and store it."""
    note = open_store(ctx).audit.checkpoint(Signer.load(_key_path(key)))
    console.print(note, end="", markup=False)


@audit_app.command("show")
def show(ctx: typer.Context, index: int) -> None:
    """Print one entry with its leaf hash."""
    console.print(
        json.dumps(open_store(ctx).audit.entry(index), indent=2, sort_keys=True), markup=False
    )


@audit_app.command("prove")
def prove(
    ctx: typer.Context,
    index: int,
    size: int | None = typer.Option(
        None, "--size", help="Tree size (default: the latest checkpoint's, else the log's)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the proof here instead of stdout."),
) -> None:
    """Inclusion proof of entry INDEX in the tree of size N (RFC 9162)."""
    log = open_store(ctx).audit
    if size is None:
        latest = log.latest_checkpoint()
        size = int(latest.split("\n")[1]) if latest else None
    _write_out(log.inclusion_proof(index, size), out)


@audit_app.command("consistency")
def consistency(
    ctx: typer.Context,
    old: int = typer.Option(..., "--from", help="Earlier tree size."),
    new: int = typer.Option(..., "--to", help="Later tree size."),
    out: Path | None = typer.Option(None, "--out"),
) -> None:
    """Consistency proof that the tree of size N1 is a prefix of the tree of size N2."""
    _write_out(open_store(ctx).audit.consistency_proof(old, new), out)


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    pubkey: str | None = typer.Option(
        None, "--pubkey", help="Verifier key, or a file holding it (default: KEY.pub if present)."
    ),
    key: Path | None = _KEY,
) -> None:
    """Recompute every leaf and root, check every checkpoint, and hold every state table
    (policies, tenants, settings, taxonomy, consent, models) to the log. Exit 1 names the
    first bad entry, or the table and row."""
    verifier = _load_verifier(pubkey, key)
    report = open_store(ctx).audit.verify(verifier)
    if not report.ok:
        where = "" if report.bad_index is None else f" at index {report.bad_index}"
        console.print(f"FAILED{where}: {report.problem}", markup=False)
        raise typer.Exit(1)
    signed = (
        f"{report.checkpoints} checkpoints verified"
        if verifier
        else f"{report.checkpoints} checkpoints (signatures not checked: no public key)"
    )
    redacted = (
        f"; {len(report.redacted)} bodies redacted (leaf hashes kept): {report.redacted[:10]}"
        if report.redacted
        else ""
    )
    console.print(f"OK: {report.size} entries, {signed}{redacted}", markup=False)


def _load_verifier(pubkey: str | None, key: Path | None) -> VerifierKey | None:
    if pubkey is None:
        default_pub = _key_path(key).with_name(_key_path(key).name + ".pub")
        if not default_pub.exists():
            return None
        pubkey = str(default_pub)
    text = Path(pubkey).read_text() if Path(pubkey).exists() else pubkey
    return VerifierKey.parse(text, "--pubkey")


@audit_app.command("redact")
def redact(ctx: typer.Context, index: int) -> None:
    """Erase entry INDEX's body (personal data); its leaf hash stays and proofs still hold.

    The erasure is logged (an audit.redacted entry). Entries that set policy, tenant,
    taxonomy, model or log state cannot be erased; a consent event's row stays."""
    logged = open_store(ctx).audit.redact(index)
    console.print(
        f"entry {index}: body erased, leaf hash kept (redaction logged at entry {logged})"
    )


@audit_app.command("append", hidden=True)
def append(ctx: typer.Context, kind: str, data: str) -> None:
    """Append one JSON entry (for integrations and tests)."""
    try:
        body = json.loads(data)
        canonical_json(body)
    except (json.JSONDecodeError, ValueError) as exc:
        raise InputError(f"entry data: {exc}") from None
    console.print(str(open_store(ctx).audit.record(kind, body)))
