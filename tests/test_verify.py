"""trainguard-verify runs on the Merkle and signed-note code and the standard library.

An auditor who runs it trusts only what it imports, so the test runs it for
real (an inclusion and a consistency proof of a signed log) in a fresh
interpreter and lists every module that run loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from trainguard.audit.note import Signer
from trainguard.store import Store

# Everything of trainguard the verifier may load: the package's lazy front door,
# the audit package (whose __init__ imports only merkle and note), and errors.
ALLOWED = {
    "trainguard",
    "trainguard.verify",
    "trainguard.audit",
    "trainguard.audit.merkle",
    "trainguard.audit.note",
    "trainguard.errors",
}
# Third-party code it must not load: no database, no compiled kernels, no Arrow.
FORBIDDEN = {
    "numba", "llvmlite", "numpy", "sqlalchemy", "alembic", "pyarrow", "orjson",
    "pydantic", "typer", "rich", "yaml", "fsspec", "zstandard",
}  # fmt: skip

_RUN = """
import json, sys
from trainguard.verify import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    assert not exc.code, exc.code
print(json.dumps(sorted(sys.modules)))
"""


def _run(*args: str) -> tuple[str, set[str]]:
    out = subprocess.run(
        [sys.executable, "-c", _RUN, *args], capture_output=True, text=True, check=True
    )
    verdict, modules = out.stdout.rstrip("\n").rsplit("\n", 1)
    return verdict, set(json.loads(modules))


def test_verifying_proofs_loads_only_merkle_note_errors_and_the_standard_library(
    store: Store, tmp_path: Path
) -> None:
    signer = Signer.generate("test-log")
    store.audit.pin_key(signer)
    store.audit.record_many([("test.event", {"i": i}) for i in range(6)])
    old = store.audit.checkpoint(signer)
    store.audit.record_many([("test.event", {"i": i}) for i in range(6, 9)])
    new = store.audit.checkpoint(signer)
    files = {
        "pub": signer.verifier.text + "\n",
        "old": old,
        "new": new,
        "inclusion": json.dumps(store.audit.inclusion_proof(3)),
        "consistency": json.dumps(store.audit.consistency_proof(8, 11)),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    key = ["--pubkey", str(tmp_path / "pub"), "--checkpoint", str(tmp_path / "new")]

    included, loaded = _run(*key, "--proof", str(tmp_path / "inclusion"))
    consistent, loaded_too = _run(
        *key, "--proof", str(tmp_path / "consistency"), "--old-checkpoint", str(tmp_path / "old")
    )

    assert included.startswith("valid: ") and "entry 3" in included
    assert consistent.startswith("valid: ") and "size 8 is a prefix" in consistent
    for modules in (loaded, loaded_too):
        ours = {m for m in modules if m == "trainguard" or m.startswith("trainguard.")}
        assert ours <= ALLOWED, sorted(ours - ALLOWED)
        assert not {m.split(".")[0] for m in modules} & FORBIDDEN
        # SHA-256 through hashlib: the compiled hashing loop is never loaded.
        assert "trainguard._native.hashing" not in modules and "hashlib" in modules
