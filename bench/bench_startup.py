"""How long the commands take to start: medians over fresh processes of
`trainguard --help`, `trainguard decide` on a small store (one policy, one
tenant; the decision is logged) and `trainguard-verify --help`, beside the
floors `python -c pass`, `python -c "import typer"` (what any Typer CLI pays
before its first line runs), `python -c "import typer; from pydantic import
BaseModel"` (what a decision cannot avoid loading: its terms and consent events
are pydantic models; `import pydantic` alone loads almost nothing) and `python -c "import typer, pydantic, sqlalchemy"` (what a decision
through SQLAlchemy, as every store but a plain SQLite file takes, cannot
avoid), and how many modules each one imports.

With --before SRC (a source tree of another version, e.g. from `git archive`),
each trainguard command also runs from SRC, alternating with this version in
the same sitting, for a comparison the machine's drift does not skew.

Run: python bench/bench_startup.py [--runs N] [--before SRC]. Prints JSON.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit

POLICY = Path(__file__).resolve().parent.parent / "src/trainguard/demo/policies/v3-2023-08-11.yaml"
DECIDE = [
    "decide",
    "--tenant",
    "acme",
    "--category",
    "customer.chat",
    "--use",
    "train.first_party",
    "--collected-at",
    "2024-01-01T00:00:00Z",
    "--at",
    "2024-06-01T00:00:00Z",
]
# Counts the modules loaded by the time the program exits (what -X importtime
# would list), written to stderr by an exit hook so the command runs unchanged.
COUNT_HOOK = (
    "import atexit, sys; "
    "atexit.register(lambda: sys.stderr.write(f'\\nmodules={len(sys.modules)}\\n'))"
)


def python_command(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def entry_point(module: str, function: str, *args: str) -> list[str]:
    """The console script, run the way its wrapper runs it."""
    code = f"import sys; from {module} import {function}; sys.argv[0] = 'x'; {function}()"
    return [sys.executable, "-c", code, *args]


Command = tuple[list[str], dict[str, str]]


def run_once(command: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):  # decide exits 1 when denied: still a full run
        raise SystemExit(f"{command}: exit {done.returncode}: {done.stderr.decode()[-400:]}")
    return seconds


def modules_loaded(command: list[str], env: dict[str, str], cwd: Path) -> int:
    """Modules in sys.modules at exit, counted in a separate run with a hook prepended."""
    counted = [command[0], "-c", f"{COUNT_HOOK}\n{command[2]}", *command[3:]]
    done = subprocess.run(counted, env=env, cwd=cwd, capture_output=True, check=False)
    last = done.stderr.decode().strip().splitlines()[-1]
    return int(last.removeprefix("modules="))


def make_store(folder: Path, env: dict[str, str]) -> None:
    cli = entry_point("trainguard.cli", "main")
    for args in (
        ["init"],
        ["policy", "add", str(POLICY)],
        ["policy", "default", "meetco-terms"],
    ):
        subprocess.run([*cli, *args], env=env, cwd=folder, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--before", type=Path, help="Source tree of the version to compare.")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="tg-bench-startup-"))
    env = {**os.environ, "TRAINGUARD_DB": str(folder / "trainguard.db")}
    env.pop("TRAINGUARD_AUDIT_KEY", None)  # no signing: the start, not the signature
    try:
        make_store(folder, env)
        cli = {
            "trainguard --help": entry_point("trainguard.cli", "main", "--help"),
            "trainguard decide": entry_point("trainguard.cli", "main", *DECIDE),
            "trainguard-verify --help": entry_point("trainguard.verify", "main", "--help"),
        }
        commands: dict[str, Command] = {
            "python -c pass": (python_command("pass"), env),
            'python -c "import typer"': (python_command("import typer"), env),
            # What a decision cannot do without: the CLI framework and pydantic;
            # through SQLAlchemy (PostgreSQL), its database layer too.
            'python -c "import typer; from pydantic import BaseModel"': (
                python_command("import typer; from pydantic import BaseModel"),
                env,
            ),
            'python -c "import typer, pydantic, sqlalchemy"': (
                python_command("import typer, pydantic, sqlalchemy"),
                env,
            ),
            **{name: (argv, env) for name, argv in cli.items()},
        }
        if args.before is not None:
            before = {**env, "PYTHONPATH": str(args.before.resolve())}
            commands.update({f"{name} (before)": (argv, before) for name, argv in cli.items()})
        for argv, command_env in commands.values():  # warm the file cache and the bytecode
            run_once(argv, command_env, folder)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for i in range(args.runs):  # interleaved, so background load hits each alike
            # Every other round backwards: no command always follows the same one
            # (a command run right after a heavy one measured slower).
            order = list(commands.items())
            for name, (argv, command_env) in order if i % 2 == 0 else order[::-1]:
                times[name].append(run_once(argv, command_env, folder))
        floor = statistics.median(times["python -c pass"])
        results = {
            name: {
                "median_ms": round(statistics.median(ts) * 1000, 1),
                "over_python_ms": round((statistics.median(ts) - floor) * 1000, 1),
                "modules": modules_loaded(*commands[name], folder),
            }
            for name, ts in times.items()
        }
        ratios = {
            f"{name}: before / now": round(
                results[f"{name} (before)"]["median_ms"] / results[name]["median_ms"], 1
            )
            for name in cli
            if f"{name} (before)" in results
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    emit("startup", {"runs": args.runs, "commands": results, "ratios": ratios})


if __name__ == "__main__":
    main()
