"""A run's working folder: nothing unfinished at --out, and what a killed run leaves is
cleaned by the next run, never what a live run is still writing."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from trainguard.cli import app
from trainguard.errors import ConflictError
from trainguard.gate import run_gate, verify_manifest
from trainguard.gate.workdir import LOCK, WorkDir, clean_leftovers
from trainguard.store import Store

runner = CliRunner()


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def leftover(parent: Path, name: str, pid: int, lock: str | None) -> Path:
    folder = parent / f".{name}.partial-{pid}-0123abcd"
    (folder / "data").mkdir(parents=True)
    if lock is not None:
        (folder / LOCK).write_text(lock)
    return folder


def test_a_folder_whose_run_died_is_removed_and_a_live_ones_is_kept(tmp_path: Path) -> None:
    live = WorkDir(tmp_path / "out")  # this process, lock held
    died_locked = leftover(tmp_path, "out", dead_pid(), lock="12345\n")
    died_before_locking = leftover(tmp_path, "other", dead_pid(), lock=None)
    # Its lock file is made but not locked yet, and its process is alive. Kept.
    starting = leftover(tmp_path, "third", os.getpid(), lock="")
    not_ours = tmp_path / ".out.partial-notours"
    not_ours.mkdir()

    removed = clean_leftovers(tmp_path)

    assert sorted(removed) == sorted([died_locked, died_before_locking])
    assert live.path.exists() and starting.exists() and not_ours.exists()
    live.discard()
    assert not live.path.exists()


def test_an_earlier_output_moved_aside_by_a_dead_run_is_put_back(tmp_path: Path) -> None:
    aside = tmp_path / f".out.old-{dead_pid()}-0123abcd"
    aside.mkdir()
    (aside / "manifest.json").write_text("{}")
    clean_leftovers(tmp_path)
    assert (tmp_path / "out" / "manifest.json").exists() and not aside.exists()
    # With a newer output in place, the one moved aside is only removed.
    aside.mkdir()
    clean_leftovers(tmp_path)
    assert not aside.exists() and (tmp_path / "out").exists()


def test_publishing_replaces_an_earlier_output_and_leaves_nothing_beside_it(
    tmp_path: Path,
) -> None:
    for content in ("first", "second"):
        work = WorkDir(tmp_path / "out")
        (work.path / "manifest.json").write_text(content)
        work.publish()
    assert (tmp_path / "out" / "manifest.json").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert not (tmp_path / "out" / LOCK).exists()


# --- a real run, killed ----------------------------------------------------------------


def big_input(path: Path, n: int) -> None:
    pq.write_table(
        pa.table(
            {
                "id": [f"r{i:07d}" for i in range(n)],
                "tenant": [f"tenant-{i % 7}" for i in range(n)],
                "category": ["service.telemetry", "customer.chat"] * (n // 2),
                "collected_at": ["2023-05-01T09:00:00Z"] * n,
                "text": [f"row {i}" for i in range(n)],
            }
        ),
        path,
        row_group_size=20_000,
    )


def cli(db: Path, *args: str) -> None:
    result = runner.invoke(app, ["--db", str(db), *args])
    assert result.exit_code == 0, result.stderr


def partials(parent: Path) -> list[Path]:
    return [p for p in parent.iterdir() if p.name.startswith(".out.partial-")]


@pytest.mark.parametrize("moment", ["while gating", "before publishing"])
def test_a_killed_run_leaves_no_output_and_the_next_run_cleans_up(
    tmp_path: Path, policy_files: dict[str, Path], moment: str
) -> None:
    db, data, out = tmp_path / "t.db", tmp_path / "in.parquet", tmp_path / "runs" / "out"
    out.parent.mkdir()
    cli(db, "init")
    cli(db, "policy", "add", *(str(policy_files[v]) for v in ("v1", "v2", "v3")))
    cli(db, "policy", "default", "meetco-terms")
    big_input(data, 400_000)
    args = [
        "--db", str(db), "gate", str(data), "--use", "train.first_party",
        "--out", str(out), "--at", "2023-08-15T00:00:00Z",
    ]  # fmt: skip

    # Hold the store's write lock: the run cannot record itself, so it cannot
    # publish, whenever the kill lands.
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    gate = subprocess.Popen(
        [sys.executable, "-c", "from trainguard.cli import main; main()", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        while True:
            assert gate.poll() is None, gate.communicate()[1].decode()
            found = partials(out.parent)
            if found and moment == "while gating":
                part = found[0] / "data" / "part-00000.parquet"
                if part.exists() and part.stat().st_size > 0:
                    break
            if found and moment == "before publishing" and (found[0] / "manifest.json").exists():
                break
            time.sleep(0.01)  # only to leave the cores to the gate while waiting
        gate.send_signal(signal.SIGKILL)
    finally:
        if gate.poll() is None:
            gate.kill()
        gate.communicate()  # reaps it and closes the pipe
        holder.execute("ROLLBACK")
        holder.close()

    assert gate.returncode == -signal.SIGKILL
    assert not out.exists()
    [left] = partials(out.parent)  # what the killed run was writing, still there
    assert (left / "data").is_dir()

    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]
    # And the result is what a run that was never interrupted writes.
    cli(db, *args[2:-4], "--out", str(tmp_path / "clean"), "--at", "2023-08-15T00:00:00Z")
    assert verify_manifest(out)["root"] == verify_manifest(tmp_path / "clean")["root"]
    assert (out / "manifest.parquet").read_bytes() == (
        tmp_path / "clean" / "manifest.parquet"
    ).read_bytes()
    assert pq.read_table(out / "data").num_rows == 200_000


def test_a_run_puts_back_an_output_moved_aside_before_deciding_whether_it_may_replace_it(
    timeline_store: Store, records_parquet: Path, tmp_path: Path
) -> None:
    first = run_gate(timeline_store, [str(records_parquet)], "train.first_party", tmp_path / "o")
    # A run with --replace killed between moving the earlier output aside and
    # moving its own into place.
    os.rename(tmp_path / "o", tmp_path / f".o.old-{dead_pid()}-0123abcd")
    with pytest.raises(ConflictError, match="--replace"):
        run_gate(timeline_store, [str(records_parquet)], "train.first_party", tmp_path / "o")
    assert verify_manifest(tmp_path / "o")["root"] == first.root
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
