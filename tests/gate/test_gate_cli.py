"""The gate, model and impact commands: the demo's story, and bad input that writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from trainguard.cli import app

from .conftest import records

runner = CliRunner()


def run(db: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--db", str(db), *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def db(tmp_path: Path, policy_files: dict[str, Path]) -> Path:
    path = tmp_path / "cli.db"
    assert run(path, "init")[0] == 0
    assert run(path, "policy", "add", str(policy_files["v1"]), str(policy_files["v2"]))[0] == 0
    assert run(path, "tenant", "assign", "acme", "meetco-terms")[0] == 0
    return path


def consent(db: Path, kind: str, at: str) -> None:
    code, _, err = run(
        db, "consent", kind, "--tenant", "acme", "--subject", "alice", "--role", "account_admin",
        "--categories", "customer.*", "--uses", "train.*", "--mode", "implied",
        "--policy-version", "meetco-terms@2023-08-07", "--at", at,
    )  # fmt: skip
    assert code == 0, err


def test_gate_register_withdraw_impact(db: Path, tmp_path: Path) -> None:
    pq.write_table(records(), tmp_path / "in.parquet")
    consent(db, "grant", "2023-08-08T10:00:00Z")
    code, out, err = run(
        db, "gate", str(tmp_path / "in.parquet"), "--use", "train.first_party",
        "--out", str(tmp_path / "set"), "--at", "2023-08-09T00:00:00Z",
    )  # fmt: skip
    assert code == 0, err
    assert "5 records: 5 admitted" in out
    assert run(db, "manifest", "verify", str(tmp_path / "set"))[0] == 0
    code, _, err = run(
        db, "manifest", "prove", str(tmp_path / "set"), "chat-1", "-o", str(tmp_path / "p.json")
    )
    assert code == 0, err
    assert run(db, "manifest", "check-proof", str(tmp_path / "p.json"))[0] == 0

    code, _, err = run(db, "model", "register", "m1", "--manifest", str(tmp_path / "set"))
    assert code == 0, err
    assert "m1" in run(db, "model", "list")[1]
    consent(db, "withdraw", "2023-08-09T12:00:00Z")
    code, out, err = run(
        db, "impact", "--at", "2023-08-10T00:00:00Z", "--json", "--export", str(tmp_path / "ids")
    )
    assert code == 0, err
    [m1] = json.loads(out)
    assert m1["by_reason"] == {"CONSENT_WITHDRAWN": 3}
    assert (tmp_path / "ids" / "m1.ids.txt").read_text().split() == m1["record_ids"]


def bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    good = tmp_path / "good.parquet"
    pq.write_table(records(), good)
    (tmp_path / "bad-mapping.yaml").write_text("id: msg\ncolour: blue\n")
    pq.write_table(records().drop_columns(["tenant"]), tmp_path / "no-tenant.parquet")
    (tmp_path / "corrupt.parquet").write_bytes(b"PAR1" + b"\x00" * 100)
    unknown = records().set_column(
        2, "category", pa.array(["customer.chat"] * 4 + ["customer.hologram"])
    )
    pq.write_table(unknown, tmp_path / "unknown.parquet")
    return {
        "bad mapping": (
            [str(good), "--mapping", str(tmp_path / "bad-mapping.yaml")],
            "line 2: colour: unknown field",
        ),
        "missing column": ([str(tmp_path / "no-tenant.parquet")], "no column 'tenant'"),
        "corrupt parquet": ([str(tmp_path / "corrupt.parquet")], "corrupt.parquet"),
        "unknown category": (
            [str(tmp_path / "unknown.parquet")],
            "unknown category 'customer.hologram'",
        ),
        "unknown use": ([str(good), "--use", "train.everything"], "unknown use"),
        "no such file": ([str(tmp_path / "nope.parquet")], "no such file"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "bad mapping",
        "missing column",
        "corrupt parquet",
        "unknown category",
        "unknown use",
        "no such file",
    ],
)
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(
    db: Path, tmp_path: Path, case: str
) -> None:
    args, message = bad_inputs(tmp_path)[case]
    if "--use" not in args:
        args = [*args, "--use", "train.first_party"]
    out = tmp_path / "out"
    code, _, err = run(db, "gate", *args, "--out", str(out))
    assert code == 2, err
    assert message in err
    assert err.count("\n") == 1 and err.startswith("trainguard: error: ")
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
