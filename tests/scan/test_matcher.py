"""Planted fragments of registered meetings are found, with correct offsets, whatever
was done to them; unregistered meetings and other keys find nothing."""

from __future__ import annotations

import random
import re
import shutil

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainguard.scan import KeyRing, Matcher, Registry, ScanConfig, tokenize
from trainguard.scan.matcher import _runs

from .conftest import is_ami

FILLER = "The quarterly weather report said little of note, and the committee adjourned early."


def fragment(text: str, start: int, words: int) -> str:
    """The original text of tokens [start, start + words) of ``text``."""
    t = tokenize(text)
    return text[int(t.starts[start]) : int(t.ends[start + words - 1])]


def pick(
    meetings: dict[str, str], registry: Registry, rng: random.Random, words: int
) -> tuple[str, str]:
    item = rng.choice(sorted(i.id for i in registry.items().values()))
    n = len(tokenize(meetings[item]))
    return item, fragment(meetings[item], rng.randrange(0, n - words), words)


def test_a_pasted_fragment_is_found_with_its_exact_offsets(
    meetings: dict[str, str], registered: Registry
) -> None:
    item, frag = pick(meetings, registered, random.Random(1), 40)
    doc = FILLER + "\n" + frag + "\n" + FILLER
    spans, _ = Matcher(registered).scan(doc)
    verbatim = [s for s in spans if s.kind == "verbatim"]
    assert len(verbatim) == 1
    span = verbatim[0]
    assert doc[span.start : span.end] == frag
    assert item in span.items and span.tokens == 40
    assert span.tenants == ["acme"] or span.tenants == ["globex"]


def test_every_verbatim_fragment_of_20_words_is_found(
    meetings: dict[str, str], registered: Registry
) -> None:
    rng = random.Random(2)
    matcher = Matcher(registered, ScanConfig(min_confidence=0.0))
    for _ in range(60):
        item, frag = pick(meetings, registered, rng, 20)
        spans, _ = matcher.scan(FILLER + " " + frag + " " + FILLER)
        assert any(s.kind == "verbatim" and item in s.items for s in spans), frag


def mangle(text: str) -> str:
    """Upper case, no punctuation, re-wrapped lines with speaker labels and timestamps."""
    words = re.findall(r"\w+", text.upper())
    lines = [" ".join(words[i : i + 7]) for i in range(0, len(words), 7)]
    return "\n".join(f"[00:{i:02d}:15] Speaker {i % 3}: {line}" for i, line in enumerate(lines))


def test_case_punctuation_wrapping_labels_and_timestamps_do_not_hide_a_fragment(
    meetings: dict[str, str], registered: Registry
) -> None:
    item, frag = pick(meetings, registered, random.Random(3), 35)
    block = mangle(frag)
    doc = FILLER + "\n" + block + "\n" + FILLER
    spans, _ = Matcher(registered).scan(doc)
    [span] = [s for s in spans if s.kind == "verbatim" and item in s.items]
    # From the first word after the first label to the last word of the block.
    words = list(re.finditer(r"\w+", block.split(": ", 1)[1]))
    first = len(FILLER) + 1 + len(block.split(": ", 1)[0]) + 2 + words[0].start()
    assert span.start == first
    assert span.end == len(FILLER) + 1 + len(block)


def test_lightly_edited_content_is_a_near_duplicate(
    meetings: dict[str, str], registered: Registry
) -> None:
    rng = random.Random(4)
    found = 0
    for _ in range(10):
        item, frag = pick(meetings, registered, rng, 150)
        words = frag.split()
        edited = " ".join("banana" if k % 10 == 5 else w for k, w in enumerate(words))
        spans, _ = Matcher(registered).scan(FILLER + "\n" + edited + "\n" + FILLER)
        near = [s for s in spans if s.kind == "near_duplicate" and item in s.items]
        found += bool(near)
        for s in near:
            assert s.similarity is not None and 0.3 <= s.similarity <= 1.0
            # The span lies within the edited text, not in the filler around it.
            assert len(FILLER) < s.start < s.end <= len(FILLER) + 1 + len(edited)
    assert found >= 9


def test_reordered_sentences_are_still_found(
    meetings: dict[str, str], registered: Registry
) -> None:
    item, frag = pick(meetings, registered, random.Random(5), 200)
    sentences = re.split(r"(?<=[.?!])\s+", frag)
    random.Random(6).shuffle(sentences)
    spans, _ = Matcher(registered).scan(" ".join(sentences))
    assert any(item in s.items for s in spans)


def test_meetings_of_another_series_produce_no_finding(
    meetings: dict[str, str], registered: Registry
) -> None:
    matcher = Matcher(registered)
    hits = {m: matcher.scan(text)[0] for m, text in meetings.items() if is_ami(m)}
    assert len(hits) == 97
    assert {m: s for m, s in hits.items() if s} == {}


def test_a_registry_read_with_other_keys_finds_nothing(
    meetings: dict[str, str], registered: Registry, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _, frag = pick(meetings, registered, random.Random(7), 60)
    assert Matcher(registered).scan(frag)[0] != []
    keys = registered.keys.path
    # Other tenant keys, other platform key, or both: nothing is recognised.
    for keep_platform, keep_tenants in ((True, False), (False, True), (False, False)):
        other = tmp_path_factory.mktemp("other-keys")
        for f in keys.glob("*.key"):
            if (f.name == "platform.key" and keep_platform) or (
                f.name != "platform.key" and keep_tenants
            ):
                shutil.copy2(f, other / f.name)
        other_keys = KeyRing(other)
        other_keys.platform_key(create=True)
        for tenant in ("acme", "globex"):
            other_keys.key(tenant, create=True)
        stranger = Matcher(Registry(registered.path, other_keys))
        assert stranger.scan(frag)[0] == [], (keep_platform, keep_tenants)


def test_text_without_spaces_between_words_is_fingerprinted(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    base = tmp_path_factory.mktemp("cjk")
    rng = random.Random(8)
    han = [chr(c) for c in range(0x4E00, 0x4E00 + 400)]
    thai = [chr(c) for c in range(0x0E01, 0x0E2E)]
    docs = {
        "zh-1": "".join(rng.choice(han) for _ in range(600)),
        "th-1": "".join(rng.choice(thai) for _ in range(600)),
    }
    registry = Registry(base / "r", KeyRing(base / "k"))
    registry.add("acme", [(k, v, None) for k, v in docs.items()])
    matcher = Matcher(registry)
    for item, text in docs.items():
        frag = text[200:230]  # 30 characters: 30 tokens
        spans, _ = matcher.scan("前言。" + frag + "。结束")
        assert [s.items for s in spans if s.kind == "verbatim"] == [[item]]
        assert any(s.start == 3 and s.end == 33 for s in spans)


def test_boilerplate_in_the_reference_corpus_gets_no_confidence(
    meetings: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    base = tmp_path_factory.mktemp("reference")
    registry = Registry(base / "r", KeyRing(base / "k"))
    item = "education_1"
    registry.add("acme", [(item, meetings[item], None)])
    opening = fragment(meetings[item], 0, 30)
    assert Matcher(registry).scan(opening)[0]
    registry.add_reference([opening])
    assert Matcher(registry).scan(opening)[0] == []
    kept = Matcher(registry, ScanConfig(min_confidence=0.0)).scan(opening)[0]
    assert kept and kept[0].confidence == 0.0


def test_a_batch_is_scanned_exactly_as_each_document_alone(
    meetings: dict[str, str], registered: Registry
) -> None:
    rng = random.Random(9)
    docs = []
    for k in range(40):
        _, frag = pick(meetings, registered, rng, rng.choice([15, 20, 30, 150]))
        if k % 3 == 0:
            frag = " ".join("x" if j % 10 == 3 else w for j, w in enumerate(frag.split()))
        other = rng.choice(sorted(meetings))
        docs.append(meetings[other][:2000] + ("\n" if k % 2 else " ") + frag + "\nSpeaker 1: done")
    docs += ["", "Grad C: one line", "日本語のテキスト" * 20]
    # Text beyond ASCII before a fragment: character offsets, not bytes.
    _, frag = pick(meetings, registered, rng, 40)
    docs += [f"Überblick — 会議の内容は機密です。 {frag} ende", f"{frag}\nÉtat: {frag}"]
    # Fragments of both tenants in one document, and a document that is all registered.
    both = [pick(meetings, registered, rng, 30)[1] for _ in range(4)]
    docs += [" … ".join(both), meetings[sorted(i.id for i in registered.items().values())[0]]]
    for config in (ScanConfig(min_confidence=0.0), ScanConfig()):
        matcher = Matcher(registered, config)
        alone = [([s.to_json() for s in sp], n) for sp, n in (matcher.scan(d) for d in docs)]
        assert [([s.to_json() for s in sp], n) for sp, n in matcher.scan_many(docs)] == alone
        kinds = {s["kind"] for spans, _ in alone for s in spans}
        assert kinds == {"verbatim", "near_duplicate"}  # the test exercises both
        assert all(alone[k][0] for k in (-4, -3, -2, -1))


@given(
    st.lists(st.sampled_from([0, 1, 2]), min_size=0, max_size=300),
    st.integers(1, 80),
    st.sampled_from([0.0, 0.3, 0.5, 1.0]),
)
def test_dense_regions_are_the_runs_of_dense_windows_trimmed_to_hits(
    kinds: list[int], width: int, similarity: float
) -> None:
    from trainguard.scan.matcher import _dense_regions

    sampled = np.array([k > 0 for k in kinds], dtype=bool)  # 0: not sampled, 2: a hit
    hit = np.array([k == 2 for k in kinds], dtype=bool)
    expected = []
    if len(kinds) >= width:
        dense = [
            (s := int(sampled[i : i + width].sum())) >= 4
            and int(hit[i : i + width].sum()) >= similarity * max(s, 1)
            for i in range(len(kinds) - width + 1)
        ]
        mark = np.zeros(len(kinds), dtype=bool)
        for i, d in enumerate(dense):
            mark[i : i + width] |= d
        for a, b in _runs(mark, 1):
            inside = np.flatnonzero(hit[a:b])
            if len(inside):
                expected.append([a + int(inside[0]), a + int(inside[-1]) + 1])
    assert _dense_regions(hit, sampled, width, similarity).tolist() == expected


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 5)), max_size=60), st.data())
def test_the_items_of_a_lookup_are_every_item_registered_for_each_hit(
    entries: list[tuple[int, int]], data: st.DataObject
) -> None:
    from trainguard.scan.matcher import _bounds, _holders, _items_of, _looked_up
    from trainguard.scan.registry import Segment, pack

    entries.sort()
    fp = pack(np.array([f for f, _ in entries], dtype=np.uint64))
    item = np.array([i for _, i in entries], dtype=np.uint32)
    segment = Segment("s", "t", "ngram", len(entries), fp, item)
    queries = np.array(data.draw(st.lists(st.integers(0, 35), max_size=20)), dtype=np.uint64)
    rows, codes = _holders(segment, *_bounds(fp, queries))
    expected = [(q, i) for q, v in enumerate(queries.tolist()) for f, i in entries if f == v]
    assert list(zip(rows.tolist(), codes.tolist(), strict=True)) == expected
    # Items read back from a kept lookup, for any subset of the queries, in query order.
    counts, found = _looked_up([segment, segment], queries)
    assert counts.tolist() == [2 * sum(f == v for f, _ in entries) for v in queries.tolist()]
    rows_kept = np.array(sorted(data.draw(st.sets(st.integers(0, max(len(queries) - 1, 0))))))
    rows_kept = rows_kept[rows_kept < len(queries)].astype(np.int64)
    wanted = [i for q, i in expected if q in set(rows_kept.tolist())]
    assert sorted(_items_of(found, rows_kept).tolist()) == sorted(wanted * 2)


@given(st.lists(st.booleans(), max_size=60), st.integers(1, 6))
def test_runs_are_the_maximal_stretches_of_true_long_enough(mask: list[bool], length: int) -> None:
    from trainguard.scan.matcher import _runs

    expected, start = [], None
    for i, on in enumerate([*mask, False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            if i - start >= length:
                expected.append((start, i))
            start = None
    assert _runs(np.array(mask, dtype=bool), length) == expected
