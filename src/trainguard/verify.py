"""Standalone verifier: trusted keys, a checkpoint and a proof file — no database.

    trainguard-verify --pubkey log.pub --checkpoint cp.txt --proof proof.json
    trainguard-verify --pubkey log.pub --checkpoint new.txt --proof c.json --old-checkpoint old.txt

Prints ``valid: …`` and exits 0, or ``invalid: …`` and exits 1 (2 for
unreadable input). With ``--old-checkpoint`` (one seen before, trusted) a
consistency proof must lead from exactly that checkpoint to the new one; a
newer checkpoint of fewer entries ("log shrank") or of another log is
refused. ``--pubkey`` may be repeated (the keys before and after a
rotation). It imports only the Merkle and signed-note code and the standard
library, so an auditor can read everything it trusts in three short modules.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from .audit.note import Checkpoint, VerifierKey
from .errors import InputError, IntegrityError


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror})") from None


def _hex(value: Any, what: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except (TypeError, ValueError):
        raise InputError(f"proof: {what} is not hex") from None
    if len(raw) != 32:
        raise InputError(f"proof: {what} is not a SHA-256 hash")
    return raw


def entry_bytes(entry: Any) -> bytes:
    """A log entry's canonical JSON (RFC 8785 for the shapes entries hold: no floats),
    with the standard library only: keys in UTF-16 order, compact, UTF-8."""

    def normalize(value: Any) -> Any:
        if isinstance(value, float):
            raise IntegrityError("the entry holds a number with a fraction (entries never do)")
        if isinstance(value, dict):
            keys = sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
            return {k: normalize(value[k]) for k in keys}
        if isinstance(value, list):
            return [normalize(v) for v in value]
        return value

    try:
        text = json.dumps(normalize(entry), ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError):
        raise IntegrityError("the entry is not canonical JSON") from None


def _signed(keys: Sequence[VerifierKey], note: str, what: str) -> Checkpoint:
    """The checkpoint of a note signed by any of the trusted keys."""
    problems = []
    for key in keys:
        try:
            return key.verify(note)
        except IntegrityError as exc:
            problems.append(str(exc).removeprefix("checkpoint: "))
    raise IntegrityError(f"{what}: {'; '.join(problems)}")


def verify_proof(
    key: VerifierKey | Sequence[VerifierKey],
    note: str,
    proof: dict[str, Any],
    old_note: str | None = None,
) -> str:
    """Check a proof against a signed checkpoint. Returns what was shown; raises IntegrityError."""
    keys = [key] if isinstance(key, VerifierKey) else list(key)
    cp = _signed(keys, note, "checkpoint")
    kind = proof.get("type")
    if proof.get("origin") not in (None, cp.origin):
        raise IntegrityError(
            f"proof is for log {proof.get('origin')!r}, checkpoint for {cp.origin!r}"
        )
    if kind == "inclusion":
        index, size = int(proof["index"]), int(proof["tree_size"])
        if size != cp.size:
            raise IntegrityError(f"proof is for tree size {size}, checkpoint is size {cp.size}")
        leaf = _hex(proof["leaf_hash"], "leaf_hash")
        entry = proof.get("entry")
        if entry is not None and leaf_hash(entry_bytes(entry)) != leaf:
            raise IntegrityError("the entry does not hash to the leaf hash")
        path = [_hex(h, "proof hash") for h in proof["proof"]]
        if not verify_inclusion(leaf, index, size, path, cp.root):
            raise IntegrityError(f"entry {index} is not in the signed tree of size {size}")
        redacted = " (body redacted)" if entry is None else ""
        return f"entry {index} is in the log {cp.origin} at signed size {cp.size}{redacted}"
    if kind == "consistency":
        old, new = int(proof["old_size"]), int(proof["new_size"])
        if new != cp.size:
            raise IntegrityError(f"proof is to tree size {new}, checkpoint is size {cp.size}")
        old_root = _hex(proof["old_root"], "old_root")
        if old_note is not None:
            old_cp = _signed(keys, old_note, "old checkpoint")
            if old_cp.origin != cp.origin:
                raise IntegrityError(
                    f"the old checkpoint is for log {old_cp.origin!r}, the new one for {cp.origin!r}"
                )
            if old_cp.size > cp.size:
                raise IntegrityError(
                    f"log shrank: the old checkpoint signs {old_cp.size} entries, "
                    f"the newer one {cp.size}"
                )
            if old_cp.size != old or old_cp.root != old_root:
                raise IntegrityError("the old checkpoint does not match the proof's old tree")
        if old > new:
            raise IntegrityError(f"log shrank: the proof leads from size {old} down to {new}")
        path = [_hex(h, "proof hash") for h in proof["proof"]]
        if not verify_consistency(old, new, path, old_root, cp.root):
            raise IntegrityError(
                f"the tree of size {old} is not a prefix of the signed tree of size {new}"
            )
        return f"the log {cp.origin} at size {old} is a prefix of its signed tree at size {new}"
    raise InputError(f"proof: unknown type {kind!r} (inclusion or consistency)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trainguard-verify", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pubkey",
        required=True,
        type=Path,
        action="append",
        help="trusted verifier key file (name+id+key); repeat for the keys of a rotation",
    )
    parser.add_argument("--checkpoint", required=True, type=Path, help="signed checkpoint (note)")
    parser.add_argument(
        "--proof", required=True, type=Path, help="proof JSON from `trainguard audit prove`"
    )
    parser.add_argument(
        "--old-checkpoint", type=Path, help="for consistency proofs: the earlier checkpoint"
    )
    args = parser.parse_args(argv)
    try:
        keys = [VerifierKey.parse(_read(p, "public key"), str(p)) for p in args.pubkey]
        try:
            proof = json.loads(_read(args.proof, "proof"))
        except json.JSONDecodeError as exc:
            raise InputError(f"{args.proof}: not valid JSON ({exc.msg})") from None
        except (ValueError, RecursionError):  # Python's reader gives up on these
            raise InputError(
                f"{args.proof}: not valid JSON (too deep, or too long a number)"
            ) from None
        if not isinstance(proof, dict):
            raise InputError(f"{args.proof}: not a proof object")
        old = _read(args.old_checkpoint, "old checkpoint") if args.old_checkpoint else None
        try:
            shown = verify_proof(keys, _read(args.checkpoint, "checkpoint"), proof, old)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{args.proof}: malformed proof ({exc})") from None
    except IntegrityError as exc:
        print(f"invalid: {exc}")
        sys.exit(1)
    except InputError as exc:
        print(f"trainguard-verify: error: {exc}", file=sys.stderr)
        sys.exit(2)
    print(f"valid: {shown}")


if __name__ == "__main__":
    main()
