"""`trainguard demo`: the whole story on a temporary store."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from ..errors import InputError
from ._app import app


@app.command()
def demo(
    keep: Path | None = typer.Option(None, "--keep", help="Build in this folder and keep it."),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Write the notice, diffs, training summary and audit report here "
        "(default: the demo's folder).",
    ),
) -> None:
    """The 2023 terms timeline, a gated training set and its impact, a scan, and what
    explains them (a notice, diffs, a training summary, an audit report): on a temporary store."""
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
    from .demo_story import run_demo

    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        run_demo(keep, out or keep, kept=True)
    else:
        with tempfile.TemporaryDirectory(prefix="trainguard-demo-") as tmp:
            run_demo(Path(tmp), out or Path(tmp), kept=out is not None)
