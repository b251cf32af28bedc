"""The registry stores keyed fingerprints only, 12 bytes each, and forgets on request."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest

from trainguard.errors import NotFoundError
from trainguard.scan import KeyRing, Matcher, Registry, tokenize
from trainguard.scan.fingerprint import DEFAULT_N, window_hashes
from trainguard.scan.registry import MAX_SEGMENTS


@pytest.fixture
def small(meetings: dict[str, str], tmp_path: Path) -> Registry:
    registry = Registry(tmp_path / "registry", KeyRing(tmp_path / "keys"))
    registry.add("acme", [(m, meetings[m], "customer.transcript") for m in ("Bed004", "Bmr007")])
    registry.add("acme", [(m, meetings[m], "customer.transcript") for m in ("Bro003",)])
    return registry


def test_twelve_bytes_per_fingerprint_and_no_text(
    small: Registry, meetings: dict[str, str]
) -> None:
    stats = small.stats()
    assert stats["items"] == 3 and stats["tenants"] == 1
    # 6-byte fingerprint, 4-byte item, at most two bytes of filter, tiny headers.
    assert stats["bytes_per_fingerprint"] <= 12.05
    words = tokenize(meetings["Bed004"]).words[100:103]
    for f in small.path.iterdir():
        body = f.read_bytes()
        assert " ".join(words).encode() not in body, f.name
    # Unkeyed window hashes (what someone without the key could compute) are not stored.
    unkeyed = window_hashes(tokenize(meetings["Bed004"]).hashes, DEFAULT_N)[:50]
    stored = np.concatenate([s.values() for s in small.segments()])
    assert not np.isin(unkeyed, stored).any()


def test_keys_live_apart_and_are_private(small: Registry) -> None:
    files = sorted(small.keys.path.glob("*.key"), key=lambda f: f.name == "platform.key")
    assert [f.name == "platform.key" for f in files] == [False, True]
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert stat.S_IMODE(small.keys.path.stat().st_mode) == 0o700
    assert not any(p.suffix == ".key" for p in small.path.iterdir())
    assert json.loads(files[0].read_text())["tenant"] == "acme"
    assert json.loads(files[1].read_text())["tenant"] is None  # the platform's
    assert small.keys.tenants() == ["acme"]


def test_registering_the_same_item_twice_is_a_no_op(
    small: Registry, meetings: dict[str, str]
) -> None:
    before = sorted(f.name for f in small.path.glob("filter-*.npy"))
    result = small.add("acme", [("Bed004", meetings["Bed004"], None)])
    assert (result.added, result.already) == (0, 1)
    assert sorted(f.name for f in small.path.glob("filter-*.npy")) == before  # not rewritten


def test_removing_an_item_removes_its_fingerprints(
    small: Registry, meetings: dict[str, str]
) -> None:
    text = meetings["Bmr007"][2000:4000]
    assert any("Bmr007" in s.items for s in Matcher(small).scan(text)[0])
    before = small.stats()["fingerprints"]["ngram"]
    small.remove("acme", "Bmr007")
    assert small.stats()["fingerprints"]["ngram"] < before
    assert not any("Bmr007" in s.items for s in Matcher(small).scan(text)[0])
    with pytest.raises(NotFoundError):
        small.remove("acme", "Bmr007")


def test_compaction_merges_segments_and_keeps_every_match(
    small: Registry, meetings: dict[str, str]
) -> None:
    text = meetings["Bro003"][1000:3000]
    found = Matcher(small).scan(text)[0]
    result = small.compact()
    assert result == {"segments_before": 4, "segments_after": 2}
    assert [s.to_json() for s in Matcher(small).scan(text)[0]] == [s.to_json() for s in found]
    assert len(list(small.path.glob("seg-*.npy"))) == 4  # two kinds, two files each


def test_adding_a_little_at_a_time_keeps_few_segments_and_every_match(
    meetings: dict[str, str], tmp_path: Path
) -> None:
    registry = Registry(tmp_path / "registry", KeyRing(tmp_path / "keys"))
    ids = sorted(meetings)[:9]
    for m in ids:  # one add per meeting: a segment per kind each time
        registry.add("acme", [(m, meetings[m], None)])
        per_kind: dict[str, int] = {}
        for seg in registry.segments():
            per_kind[seg.kind] = per_kind.get(seg.kind, 0) + 1
        assert max(per_kind.values()) <= MAX_SEGMENTS
    assert registry.stats()["items"] == 9
    matcher = Matcher(registry)
    for m in ids:  # merging lost nothing: each meeting is still found as itself
        spans, _ = matcher.scan(meetings[m][1000:3000])
        assert any(m in s.items for s in spans), m
    live = {s.name for s in registry.segments()}
    assert {f.name.split(".")[0] for f in registry.path.glob("seg-*.npy")} == live
    # The filter grew with the registry (rebuilt when it had grown by half), never
    # past two bytes a fingerprint, and one file of it is left.
    stats = registry.stats()
    total = sum(stats["fingerprints"].values())
    assert total / 4 / 1.5 <= registry.filter().shape[0] <= total / 4
    assert stats["bytes_per_fingerprint"] <= 12.05
    assert len(list(registry.path.glob("filter-*.npy"))) == 1


def test_a_registry_made_with_other_parameters_is_refused(small: Registry) -> None:
    from trainguard.errors import InputError

    meta = json.loads((small.path / "registry.json").read_text())
    meta["normalization"] = 0
    (small.path / "registry.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="other parameters"):
        Registry(small.path, small.keys).stats()


def test_a_removal_leaves_no_trace_in_the_filter(
    small: Registry, meetings: dict[str, str], tmp_path: Path
) -> None:
    small.remove("acme", "Bro003")
    # The same keys, only the remaining meetings: the very same filter, bit for bit.
    fresh = Registry(tmp_path / "fresh", small.keys)
    fresh.add("acme", [(m, meetings[m], "customer.transcript") for m in ("Bed004", "Bmr007")])
    assert np.array_equal(np.asarray(small.filter()), np.asarray(fresh.filter()))
    assert len(list(small.path.glob("filter-*.npy"))) == 1


def test_the_filter_is_rebuilt_only_with_every_tenants_key(
    small: Registry, meetings: dict[str, str], tmp_path: Path
) -> None:
    from trainguard.errors import InputError

    small.add("globex", [("ES2002a", meetings["ES2002a"], None)])
    partial = tmp_path / "partial-keys"
    partial.mkdir()
    for f in small.keys.path.glob("*.key"):
        if json.loads(f.read_text())["tenant"] != "globex":
            (partial / f.name).write_bytes(f.read_bytes())
    with pytest.raises(InputError, match="no key of tenant 'globex'"):
        Registry(small.path, KeyRing(partial)).compact()
    assert Registry(small.path, small.keys).compact()["segments_after"] == 4
