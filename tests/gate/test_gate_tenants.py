"""The gate decides per row: a row whose tenant is a look-alike of an assigned one, or
under no terms, is kept out with UNKNOWN_TENANT; the run goes on for the others."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from trainguard.decision.policy import load_policy_file
from trainguard.gate import run_gate
from trainguard.store import Store

from .conftest import AUG_9, admin_grant
from .test_gate_run import manifest_rows

TENANTS = {
    "ok": "acme",
    "case": "Acme",
    "space": "acme ",
    "hyphen": "acme\u2010",
    "zero-width": "ac\u200bme",
    "fullwidth": "ａｃｍｅ",
    "unassigned": "globex",
}


def test_lookalike_and_unassigned_tenants_are_kept_out_row_by_row(
    store: Store, policy_files: dict[str, Path], tmp_path: Path
) -> None:
    store.add_policies(
        [(load_policy_file(policy_files[v]), str(policy_files[v])) for v in ("v1", "v2")]
    )
    store.assign_tenant("acme", "meetco-terms")  # and no default: globex is under no terms
    store.add_consent_events([admin_grant(store)])
    pq.write_table(
        pa.table(
            {
                "id": list(TENANTS),
                "tenant": list(TENANTS.values()),
                "category": ["customer.chat"] * len(TENANTS),
                "collected_at": ["2023-05-01T09:00:00Z"] * len(TENANTS),
                "text": ["hello"] * len(TENANTS),
            }
        ),
        tmp_path / "in.parquet",
    )
    result = run_gate(store, [str(tmp_path / "in.parquet")], "train.first_party",
                      tmp_path / "out", at=AUG_9)  # fmt: skip
    rows = manifest_rows(tmp_path / "out")
    assert rows["ok"]["allowed"] is True
    for key in TENANTS.keys() - {"ok"}:
        assert rows[key]["allowed"] is False and rows[key]["reasons"] == ["UNKNOWN_TENANT"], key
    assert result.admitted == 1
