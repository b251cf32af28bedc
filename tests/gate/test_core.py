"""Lineage: categories are inherited within a tenant, never across tenants."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trainguard.gate.core import UNKNOWN_SOURCE, Lineage

IDS = ["x1", "x2", "x3", "x4"]
CATS = ["customer.chat", "service.telemetry", "service.usage"]

# One tenant's records: each id at most once, with a category and sources among IDS.
tenant_records = st.dictionaries(
    st.sampled_from(IDS),
    st.tuples(st.sampled_from(CATS), st.lists(st.sampled_from(IDS), max_size=2)),
    max_size=4,
)


def lineage_of(records: dict[str, dict[str, tuple[str, list[str]]]]) -> Lineage:
    lineage = Lineage()
    for tenant, rows in records.items():
        lineage.add(
            [tenant] * len(rows),
            list(rows),
            [[c] for c, _ in rows.values()],
            [parents for _, parents in rows.values()],
        )
    return lineage


@given(acme=tenant_records, other=tenant_records)
def test_another_tenants_records_never_change_a_records_categories(
    acme: dict[str, tuple[str, list[str]]], other: dict[str, tuple[str, list[str]]]
) -> None:
    alone = lineage_of({"acme": acme})
    beside = lineage_of({"acme": acme, "globex": other})
    for rid in IDS:
        assert alone.effective("acme", rid) == beside.effective("acme", rid)


@given(acme=tenant_records)
def test_a_record_inherits_every_source_it_reaches_and_unknown_ones_mark_it(
    acme: dict[str, tuple[str, list[str]]],
) -> None:
    lineage = lineage_of({"acme": acme})
    for rid in acme:
        reached, stack = set(), [rid]
        while stack:
            r = stack.pop()
            if r not in reached:
                reached.add(r)
                stack.extend(acme[r][1] if r in acme else [])
        expected = {acme[r][0] if r in acme else UNKNOWN_SOURCE for r in reached}
        assert set(lineage.effective("acme", rid)) == expected


def test_a_repeated_name_keeps_the_categories_of_both_rows() -> None:
    lineage = Lineage()
    lineage.add(
        ["acme"] * 2, ["x1", "x1"], [["customer.chat"], ["service.telemetry"]], [None, None]
    )
    lineage.add(["acme"], ["s1"], [["service.usage"]], [["x1"]])
    assert "customer.chat" in lineage.effective("acme", "s1")


def test_a_record_in_the_run_and_in_an_earlier_manifest_counts_with_both() -> None:
    lineage = Lineage(known={("acme", "x1"): ("customer.chat",)})
    lineage.add(
        ["acme", "acme"], ["x1", "s1"], [["service.telemetry"], ["service.usage"]], [None, ["x1"]]
    )
    assert lineage.effective("acme", "s1") == (
        "customer.chat",
        "service.telemetry",
        "service.usage",
    )
    assert lineage.effective("globex", "x1") == (UNKNOWN_SOURCE,)
