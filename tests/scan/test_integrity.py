"""A damaged, forged or emptied registry is refused, never scanned as if clean."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainguard.errors import InputError
from trainguard.scan import KeyRing, Matcher, Registry
from trainguard.scan.integrity import RegistryDamaged, file_digest

TEXT = " ".join(f"word{i}" for i in range(60))


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    reg = Registry(tmp_path / "registry", KeyRing(tmp_path / "keys"))
    reg.add("acme", [("a-1", TEXT, "customer.chat")])
    reg.add_reference(["known public words " * 10])
    return reg


def fresh(reg: Registry) -> Registry:
    """The same folder opened anew, as a scan opens it."""
    return Registry(reg.path, KeyRing(reg.keys.path))


def segment_file(reg: Registry) -> Path:
    return reg.path / f"{reg.meta['segments'][0]['name']}.fp.npy"


def flip_byte(f: Path) -> None:
    data = bytearray(f.read_bytes())
    data[-1] ^= 0x01
    f.write_bytes(bytes(data))


def zero(f: Path) -> None:
    f.write_bytes(bytes(f.stat().st_size))


def truncate(f: Path) -> None:
    f.write_bytes(f.read_bytes()[:-6])


def remove(f: Path) -> None:
    f.unlink()


@pytest.mark.parametrize("damage", [flip_byte, zero, truncate, remove])
@pytest.mark.parametrize("which", ["segment", "item codes", "filter", "items", "reference"])
def test_every_kind_of_damage_to_every_file_is_named_in_one_line(
    registry: Registry, damage: Callable[[Path], None], which: str
) -> None:
    seg = registry.meta["segments"][0]["name"]
    f = (
        registry.path
        / {
            "segment": f"{seg}.fp.npy",
            "item codes": f"{seg}.item.npy",
            "filter": f"{registry.meta['filter']['name']}.npy",
            "items": "items.jsonl",
            "reference": "reference.npy",
        }[which]
    )
    damage(f)
    with pytest.raises(RegistryDamaged) as exc:
        reg = fresh(registry).require_keys()
        Matcher(reg)
    assert f.name in str(exc.value) and "\n" not in str(exc.value)


def test_a_matching_segment_is_looked_up_as_before(registry: Registry) -> None:
    spans, _ = Matcher(fresh(registry).require_keys()).scan("intro " + TEXT + " outro")
    assert [s.items for s in spans] == [["a-1"]]


def test_lines_beyond_the_committed_items_are_ignored_not_refused(registry: Registry) -> None:
    """An add that did not commit leaves lines after the committed part: no damage."""
    with (registry.path / "items.jsonl").open("a") as f:
        f.write(json.dumps({"code": 9, "tenant": "acme", "id": "x", "ngrams": 1, "shingles": 0}))
        f.write("\n")
    assert [i.id for i in fresh(registry).items().values()] == ["a-1"]


@pytest.mark.parametrize("edit", ["checksum", "segments", "mac"])
def test_an_edited_registry_json_is_refused_by_its_mac(registry: Registry, edit: str) -> None:
    """Whoever can write the folder but holds no key cannot record a new checksum."""
    f = segment_file(registry)
    meta = json.loads((registry.path / "registry.json").read_text())
    if edit == "checksum":  # zero a segment and record the zeroed file's checksum
        zero(f)
        meta["files"][f.name] = file_digest(f)
    elif edit == "segments":  # drop every segment: an empty registry that scans clean
        meta["segments"] = []
    else:
        meta.pop("mac")
    (registry.path / "registry.json").write_text(json.dumps(meta))
    with pytest.raises(RegistryDamaged, match="registry.json was changed"):
        fresh(registry).require_keys()


def test_an_empty_registry_is_refused_for_scanning(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "registry", KeyRing(tmp_path / "keys"))
    reg.add("acme", [("a-1", TEXT, None)])
    reg.remove("acme", "a-1")
    with pytest.raises(InputError, match="holds no registered content"):
        fresh(reg).require().require_keys()


def test_a_registry_without_checksums_is_refused(registry: Registry) -> None:
    meta = json.loads((registry.path / "registry.json").read_text())
    meta["format"] = 1
    (registry.path / "registry.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="format 1, without the checksums"):
        fresh(registry).stats()


def test_verify_files_checks_every_file(registry: Registry) -> None:
    assert fresh(registry).verify_files() == len(registry.meta["files"]) == 7  # 2 segments


@settings(max_examples=25, deadline=None)
@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_flipped_bit_of_a_segment_is_caught(
    tmp_path_factory: pytest.TempPathFactory, position: int, bit: int
) -> None:
    base = tmp_path_factory.mktemp("flip")
    reg = Registry(base / "registry", KeyRing(base / "keys"))
    reg.add("acme", [("a-1", TEXT, None)])
    f = segment_file(reg)
    data = bytearray(f.read_bytes())
    data[position % len(data)] ^= 1 << bit
    f.write_bytes(bytes(data))
    with pytest.raises(RegistryDamaged):
        fresh(reg).segments()


def test_checksums_of_unchanged_segments_are_carried_not_recomputed(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An add hashes the files it writes, not the whole registry again."""
    from trainguard.scan import registry as module

    hashed: list[str] = []
    real = module.file_digest

    def spy(path: Path, size: int | None = None) -> dict[str, object]:
        hashed.append(path.name)
        return real(path, size)

    monkeypatch.setattr(module, "file_digest", spy)
    before = {s["name"] for s in registry.meta["segments"]}
    rng = random.Random(3)
    registry.add("acme", [("a-2", " ".join(f"w{rng.random()}" for _ in range(40)), None)])
    assert not any(name.split(".")[0] in before for name in hashed)
    assert np.all(Matcher(fresh(registry)).filter == registry.filter())


@pytest.mark.parametrize("change", ["compact", "remove", "add"])
def test_a_change_does_not_launder_a_damaged_segment_into_a_valid_one(
    registry: Registry, change: str
) -> None:
    """Merging or rewriting reads segments: a damaged one stops the change."""
    registry.add("acme", [("a-2", TEXT + " and some more words", None)])
    zero(segment_file(registry))
    reg = fresh(registry)
    with pytest.raises(RegistryDamaged):
        if change == "compact":
            reg.compact()
        elif change == "remove":
            reg.remove("acme", "a-2")
        else:  # enough small adds to make the add merge segments
            for k in range(6):
                reg.add("acme", [(f"b-{k}", f"{TEXT} {k} " * 2, None)])
