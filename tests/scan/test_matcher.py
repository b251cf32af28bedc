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
from trainguard.scan.matcher import _batch_samples, batch_samples_reference

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
    assert len(hits) == 16
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
    st.lists(st.integers(0, 40), max_size=6),
    st.integers(1, 5),
    st.data(),
)
def test_the_batch_samples_match_the_reference(
    lengths: list[int], stride: int, data: st.DataObject
) -> None:
    docs = [d for d, n in enumerate(lengths) for _ in range(n)]
    hashes = data.draw(st.lists(st.integers(0, 2**64 - 1), min_size=len(docs), max_size=len(docs)))
    out = np.empty((4, len(docs)), dtype=np.uint64)
    n_ngram, n_shingle = _batch_samples(
        np.array(hashes, dtype=np.uint64), np.array(docs, dtype=np.int64), stride, *out
    )
    ngrams = list(zip(out[0, :n_ngram].tolist(), out[1, :n_ngram].tolist(), strict=True))
    shingles = list(zip(out[2, :n_shingle].tolist(), out[3, :n_shingle].tolist(), strict=True))
    assert (ngrams, shingles) == batch_samples_reference(hashes, docs, stride)
