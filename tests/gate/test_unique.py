"""Unique (tenant, id): digests say where to look, exact comparison says what is repeated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainguard.errors import InputError
from trainguard.gate.unique import Duplicate, UniqueIds, key_digest_reference, refuse_duplicates

Key = tuple[str, str]


def naive_first_duplicate(keys: list[Key]) -> Duplicate | None:
    """The duplicate whose second row comes first, by a dict: what UniqueIds must find."""
    first: dict[Key, int] = {}
    for position, key in enumerate(keys):
        if key in first:
            return Duplicate(key[0], key[1], first[key], position)
        first[key] = position
    return None


def batches(keys: list[Key], size: int) -> list[tuple[pa.Array, pa.Array]]:
    return [
        (pa.array([t for t, _ in keys[lo : lo + size]], pa.string()),
         pa.array([i for _, i in keys[lo : lo + size]], pa.string()))
        for lo in range(0, max(len(keys), 1), size)
    ]  # fmt: skip


def find(check: UniqueIds, keys: list[Key], size: int) -> Duplicate | None:
    for tenants, ids in batches(keys, size):
        check.add(tenants, ids)
    return check.first_duplicate(batches(keys, size), check.suspects())


keys_strategy = st.lists(
    st.tuples(st.sampled_from(["acme", "globex", "", "a\x00"]), st.text(max_size=12)),
    max_size=60,
)


@given(keys=keys_strategy, size=st.integers(1, 20), budget=st.integers(1, 30))
def test_the_first_repeated_key_is_found_in_memory_and_when_spilled(
    tmp_path_factory: pytest.TempPathFactory, keys: list[Key], size: int, budget: int
) -> None:
    expected = naive_first_duplicate(keys)
    assert find(UniqueIds(), keys, size) == expected
    spill = tmp_path_factory.mktemp("spill")
    assert find(UniqueIds(spill, memory_digests=budget), keys, size) == expected
    assert list(spill.iterdir()) == []  # buckets are read and removed


def test_the_same_id_under_two_tenants_is_two_records() -> None:
    keys = [("acme", "x1"), ("globex", "x1"), ("acme", "x2")]
    assert find(UniqueIds(), keys, 2) is None


def test_a_tenant_and_id_that_only_concatenate_alike_are_different() -> None:
    keys = [("ab", "c"), ("a", "bc"), ("a\x00", "b"), ("a", "\x00b")]
    assert find(UniqueIds(), keys, 4) is None


class Colliding(UniqueIds):
    """Every key has the same digest: only the exact comparison can tell them apart."""

    def digests(self, tenants: pa.Array, ids: pa.Array) -> np.ndarray:
        return np.zeros(len(ids), np.uint64)


def test_a_digest_collision_is_not_a_duplicate(tmp_path: Path) -> None:
    keys = [("acme", f"x{i}") for i in range(50)]
    check = Colliding(tmp_path, memory_digests=7)
    assert find(check, keys, 8) is None
    assert find(Colliding(), [*keys, ("acme", "x3")], 8) == Duplicate("acme", "x3", 3, 50)


def test_refuse_duplicates_names_the_id_tenant_and_rows() -> None:
    tenants = pa.array(["acme", "globex", "acme", "acme"])
    ids = pa.array(["x1", "x1", "x2", "x1"])
    with pytest.raises(InputError) as caught:
        refuse_duplicates(tenants, ids, "table")
    assert str(caught.value) == (
        "table: record id 'x1' of tenant 'acme' appears twice, in rows 0 and 3; "
        "ids must be unique within a tenant"
    )
    refuse_duplicates(tenants.slice(0, 3), ids.slice(0, 3), "table")  # no error


@given(st.lists(st.tuples(st.text(max_size=20), st.text(max_size=20)), max_size=20))
def test_the_compiled_digests_match_the_reference(pairs: list[tuple[str, str]]) -> None:
    unique = UniqueIds()
    got = unique.digests(
        pa.array([t for t, _ in pairs], pa.string()), pa.array([i for _, i in pairs], pa.string())
    )
    k0, k1 = int(unique._k0), int(unique._k1)
    expected = [key_digest_reference(t.encode(), i.encode(), k0, k1) for t, i in pairs]
    assert got.tolist() == expected
