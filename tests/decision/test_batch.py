"""decide_batch reads time strings Arrow's parser refuses (bare dates, say)
once per distinct text, and still names the first row of a text it refuses."""

from __future__ import annotations

import pyarrow as pa
import pytest

from trainguard.decision.batch import decide_batch
from trainguard.errors import InputError
from trainguard.store import Store


def table(collected_at: list[str]) -> pa.Table:
    n = len(collected_at)
    return pa.table(
        {
            "id": [f"r{i}" for i in range(n)],
            "tenant": ["acme"] * n,
            "categories": [["service.telemetry"]] * n,
            "collected_at": collected_at,
        }
    )


def test_bare_dates_are_read_as_midnight_utc_row_by_row(timeline_store: Store) -> None:
    dates = ["2023-05-01", "2023-08-10", "2023-05-01", "2023-08-10T00:00:00Z"]
    out = decide_batch(timeline_store.context(), table(dates), "train.first_party", None)
    same = decide_batch(
        timeline_store.context(),
        table([d if "T" in d else f"{d}T00:00:00Z" for d in dates]),
        "train.first_party",
        None,
    )
    assert out.to_pylist() == same.to_pylist()


def test_a_refused_time_is_named_by_the_first_row_that_holds_it(timeline_store: Store) -> None:
    dates = ["2023-05-01"] * 3 + ["yesterday"] * 5
    with pytest.raises(InputError, match="collected_at row 3: 'yesterday'"):
        decide_batch(timeline_store.context(), table(dates), "train.first_party", None)
