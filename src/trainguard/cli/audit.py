"""audit commands: keys, checkpoints, entries, proofs, verification, redaction."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..errors import ConflictError, InputError, TrainguardError
from ..limits import is_file, read_bounded_text, write_output
from ._app import app, command_group, console, index_value, open_store

if TYPE_CHECKING:
    from ..audit.note import Signer, VerifierKey
    from ..store import Store

audit_app = command_group("The tamper-evident audit log.")
app.add_typer(audit_app, name="audit")

DEFAULT_KEY = "trainguard-audit.key"
# audit.keys.DEFAULT_MAX_UNSIGNED, written out so that the help does not load the
# signing code (tests/cli/test_imports.py holds the two equal).
DEFAULT_MAX_UNSIGNED = 1000


def _key_path(key: Path | None) -> Path:
    path = key or Path(os.environ.get("TRAINGUARD_AUDIT_KEY", DEFAULT_KEY))
    if not path.name:  # "" or "/": no file to read, nor a KEY.pub beside it
        raise InputError(f"--key {str(path)!r}: names a folder, not a key file")
    return path


# Bounded so that a huge number is a usage error, not an overflow in the store.
_INDEX = typer.Argument(..., callback=index_value, help="Entry index (0 is the first).")


def configured_key() -> Path:
    """The signing key commands sign with: $TRAINGUARD_AUDIT_KEY, else ./trainguard-audit.key."""
    return _key_path(None)


def _pub_path(key: Path) -> Path:
    return key.with_name(key.name + ".pub")


_KEY = typer.Option(
    None, "--key", help=f"Signing key file (default: $TRAINGUARD_AUDIT_KEY, else ./{DEFAULT_KEY})."
)
_MAX_UNSIGNED = typer.Option(
    DEFAULT_MAX_UNSIGNED,
    "--max-unsigned",
    min=1,
    help="Most entries that may follow the latest signed checkpoint; verify fails beyond it.",
)


def _write_out(data: dict[str, object], out: Path | None) -> None:
    text = json.dumps(data, indent=2, sort_keys=True)
    if out is None:
        console.print(text, markup=False)
    else:
        write_output(out, text + "\n", "--out")
        console.print(f"wrote {out}", markup=False)


def _new_key(path: Path, name: str) -> Signer:
    """Generate and save a signing key (refusing to overwrite) and its KEY.pub."""
    from ..audit.note import Signer

    signer = Signer.generate(name)
    signer.save(path)
    write_output(_pub_path(path), signer.verifier.text + "\n")
    return signer


@audit_app.command("keygen")
def keygen(
    ctx: typer.Context,
    key: Path | None = _KEY,
    name: str | None = typer.Option(None, "--name", help="Key name (default: the log's origin)."),
    max_unsigned: int = _MAX_UNSIGNED,
) -> None:
    """Create the Ed25519 signing key (mode 0600, never in the database) and KEY.pub,
    pin its public key in the log, and sign a first checkpoint."""
    log = open_store(ctx).audit
    pinned = log.pinned_key()
    if pinned is not None:
        raise ConflictError(
            f"the audit log already pins key {pinned.name}+{pinned.key_id}; "
            "a new key comes in with `trainguard audit rotate-key --new-key FILE`"
        )
    path = _key_path(key)
    signer = _new_key(path, name or log.origin())
    log.pin_key(signer, max_unsigned)
    console.print(
        f"signing key: {path} (keep it secret)\npublic key:  {_pub_path(path)}\n"
        f"{signer.verifier.text}\npinned in the log; at most {max_unsigned} entries "
        "may go unsigned",
        markup=False,
    )


@audit_app.command("pin")
def pin(ctx: typer.Context, key: Path | None = _KEY, max_unsigned: int = _MAX_UNSIGNED) -> None:
    """Pin an existing signing key's public key in the log (a log from before pinning)."""
    from ..audit.note import Signer

    signer = Signer.load(_key_path(key))
    added = open_store(ctx).audit.pin_key(signer, max_unsigned)
    state = "pinned" if added else "already pinned"
    console.print(f"{signer.verifier.text} {state}", markup=False)


@audit_app.command("rotate-key")
def rotate_key(
    ctx: typer.Context,
    key: Path | None = _KEY,
    new_key: Path = typer.Option(
        ..., "--new-key", help="The next signing key (created, with FILE.pub, if absent)."
    ),
    max_unsigned: int | None = typer.Option(
        None, "--max-unsigned", min=1, help="A new limit of unsigned entries (default: kept)."
    ),
) -> None:
    """Hand the log to a new key: a logged rotation signed by the old key and the new one."""
    from ..audit.note import Signer

    log = open_store(ctx).audit
    old = Signer.load(_key_path(key))
    new = Signer.load(new_key) if new_key.exists() else _new_key(new_key, old.name)
    note = log.rotate_key(old, new, max_unsigned)
    console.print(
        f"rotated to {new.verifier.text}\nsign with {new_key} from now on "
        "(--key, or $TRAINGUARD_AUDIT_KEY)",
        markup=False,
    )
    console.print(note, end="", markup=False)


@audit_app.command("pubkey")
def pubkey(key: Path | None = _KEY) -> None:
    """Print the verifier (public) key of a signing key."""
    from ..audit.note import Signer

    console.print(Signer.load(_key_path(key)).verifier.text, markup=False)


@audit_app.command("checkpoint")
def checkpoint(ctx: typer.Context, key: Path | None = _KEY) -> None:
    """Sign the current tree head (C2SP signed note) and store it."""
    from ..audit.note import Signer

    note = open_store(ctx).audit.checkpoint(Signer.load(_key_path(key)))
    console.print(note, end="", markup=False)


def sign_appended(store: Store) -> None:
    """After a command that appended: checkpoint with the configured key, if the log pins one.

    The command's own work is committed already, so a key that cannot sign is
    a warning on stderr, not a failed command.
    """
    if not store.audit.appended:
        return
    path = _key_path(None)
    if not path.exists() or store.audit.pinned_key() is None:
        return
    from sqlalchemy.exc import SQLAlchemyError

    from ..audit.note import Signer

    try:
        store.audit.checkpoint_if_due(Signer.load(path))
    except (TrainguardError, SQLAlchemyError) as exc:
        typer.echo(f"trainguard: warning: new audit entries not checkpointed: {exc}", err=True)


def pin_configured_key(store: Store) -> str | None:
    """At init: pin $TRAINGUARD_AUDIT_KEY / ./trainguard-audit.key if it exists and
    the log pins nothing yet. Returns what was done, for the user."""
    from ..audit.note import Signer

    path = _key_path(None)
    if not path.exists() or store.audit.pinned_key() is not None:
        return None
    signer = Signer.load(path)
    store.audit.pin_key(signer)
    return f"pinned audit key {signer.verifier.name}+{signer.verifier.key_id} from {path}"


@audit_app.command("show")
def show(ctx: typer.Context, index: int = _INDEX) -> None:
    """Print one entry with its leaf hash."""
    console.print(
        json.dumps(open_store(ctx).audit.entry(index), indent=2, sort_keys=True), markup=False
    )


@audit_app.command("prove")
def prove(
    ctx: typer.Context,
    index: int = _INDEX,
    size: int | None = typer.Option(
        None,
        "--size",
        callback=index_value,
        help="Tree size (default: the latest checkpoint's, else the log's).",
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
    old: int = typer.Option(..., "--from", callback=index_value, help="Earlier tree size."),
    new: int = typer.Option(..., "--to", callback=index_value, help="Later tree size."),
    out: Path | None = typer.Option(None, "--out"),
) -> None:
    """Consistency proof that the tree of size N1 is a prefix of the tree of size N2."""
    _write_out(open_store(ctx).audit.consistency_proof(old, new), out)


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    pubkey: str | None = typer.Option(
        None,
        "--pubkey",
        help="A verifier key you trust, or a file holding it; it must be one the log pins "
        "(default: the log's pinned key, and KEY.pub beside --key must agree with it).",
    ),
    key: Path | None = _KEY,
    since: Path | None = typer.Option(
        None, "--since", help="A checkpoint seen before: the log must still hold it, unchanged."
    ),
    witness: Path | None = typer.Option(
        None,
        "--witness",
        help="File with the last checkpoint seen: checked like --since if present, "
        "then replaced by the newest verified checkpoint.",
    ),
) -> None:
    """Recompute every leaf and root, check every checkpoint against the pinned keys, and
    hold every state table (policies, tenants, settings, taxonomy, consent, models) to the
    log. Exit 1 names the first bad entry, or the table and row."""
    if since is not None and witness is not None:
        raise InputError("--since and --witness: give one of them")
    verifier, source = _load_verifier(pubkey, key)
    seen_file = since or (witness if witness is not None and witness.exists() else None)
    seen = read_bounded_text(seen_file, 64 * 1024, "checkpoint") if seen_file is not None else None
    report = open_store(ctx).audit.verify(verifier, since=seen, source=source)
    if not report.ok:
        at = "" if report.bad_index is None else f" at index {report.bad_index}"
        console.print(f"FAILED{at}: {report.problem}", markup=False)
        raise typer.Exit(1)
    if report.keys is None:
        signed = (
            f"{report.checkpoints} checkpoints (signatures not checked: "
            "the log pins no key and none was given)"
        )
    else:
        signed = (
            f"{report.checkpoints} checkpoints verified ({report.keys.describe()}); "
            f"{report.unsigned} entries after the latest (at most {report.keys.max_unsigned})"
        )
    redacted = (
        f"; {len(report.redacted)} bodies redacted (leaf hashes kept): {report.redacted[:10]}"
        if report.redacted
        else ""
    )
    consistent = f"; consistent with the checkpoint in {seen_file}" if seen_file else ""
    redecided = f"; {report.redecided} decisions made again and matched" + (
        f", {report.not_redecided} not re-checked (an entry they need was erased)"
        if report.not_redecided
        else ""
    )
    console.print(
        f"OK: {report.size} entries, {signed}{redacted}{redecided}{consistent}", markup=False
    )
    if witness is not None:
        if report.latest is None or report.keys is None:
            console.print(f"{witness}: left as it was (no signed checkpoint was verified)")
        else:
            _replace_text(witness, report.latest)
            console.print(
                f"{witness}: now holds the checkpoint at size {_note_size(report.latest)}"
            )


def _load_verifier(pubkey: str | None, key: Path | None) -> tuple[VerifierKey | None, str]:
    from ..audit.note import VerifierKey

    if pubkey is None:
        default_pub = _pub_path(_key_path(key))
        if not default_pub.exists():
            return None, "--pubkey"
        source = str(default_pub)
        text = read_bounded_text(default_pub, 64 * 1024, "public key")
    else:
        source = "--pubkey"
        text = read_bounded_text(pubkey, 64 * 1024, "--pubkey") if is_file(pubkey) else pubkey
    return VerifierKey.parse(text, source), source


def _replace_text(path: Path, text: str) -> None:
    """Write through a temporary file and rename, so a crash never leaves half a note."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the checkpoint ({exc.strerror})") from None


def _note_size(note: str) -> str:
    return note.split("\n")[1]


@audit_app.command("redact")
def redact(ctx: typer.Context, index: int = _INDEX) -> None:
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
    from ..canonical import canonical_json

    try:
        body = json.loads(data)
        canonical_json(body)
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"entry data: {exc}") from None
    console.print(str(open_store(ctx).audit.record(kind, body)))
