"""Find registered content in one document: verbatim spans and near-duplicates.

Every lookup goes through the registry's filter first (:mod:`.bloom`): a
window is keyed once under the platform key and probed there; only windows
the filter may hold go on, through each tenant's permutation, to that
tenant's segments. The filter has no false negatives, so this changes what
a scan costs, never what it finds.

Verbatim. Every 13-word window of the document gets an unkeyed rolling hash.
For each tenant in the registry, the windows at every ``stride``-th position
are keyed and looked up (a fragment of ``min_tokens`` words spans
``min_tokens - 12`` windows, so with ``stride`` at most that, one of them is
always checked). Only when a sampled window hits is every window keyed and
looked up; runs of at least ``min_tokens - 12`` consecutive registered
windows become spans. Each lookup is an exact comparison of keyed
fingerprints (48 bits), and a span needs 8 of them in a row: no span comes
from a hash collision (with a billion fingerprints registered, the chance is
about 2^-140).

Boilerplate. A window registered in ``common_items`` or more items, by
``common_tenants`` or more tenants, or present in the reference corpus of
public text, is common: true, but not evidence about one customer. Each span's ``confidence`` is the fraction of
its windows that are distinctive.

Near-duplicates. Lightly edited text (a word in ten replaced, sentences
reordered) breaks 13-word windows but leaves most 5-word ones intact. The
registry keeps the 5-word windows whose unkeyed hash is 0 mod 4 — a sample
chosen by content, so the document samples the same ones. Where, over
``near_min_tokens`` tokens, at least ``near_min_similarity`` of the sampled
5-word windows (and at least ``near_min_hits`` of them) are registered in one
item, the region is reported as ``near_duplicate`` with that fraction as its
``similarity`` (an estimate of containment). Phrases registered in
``common_items`` or more items are ordinary speech and count for nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from . import bloom
from .fingerprint import DEFAULT_N, key_words, permute, window_hashes
from .lookup import Found, Probe, bounds, held_by, holders, is_held, items_of
from .normalize import BatchTokenizer, Tokens, join_utf8, tokenize
from .regions import dense_regions, dense_regions_many, doc_windows, runs, runs_many
from .registry import SHINGLE_N, SHINGLE_SAMPLE, Registry, Segment, platform_check


@dataclass(frozen=True)
class ScanConfig:
    min_tokens: int = 20
    stride: int = 8
    common_tenants: int = 2
    common_items: int = 3
    near_duplicates: bool = True
    near_min_tokens: int = 60
    near_min_similarity: float = 0.3
    near_min_hits: int = 6
    min_confidence: float = 0.5

    def __post_init__(self) -> None:
        windows = self.min_tokens - DEFAULT_N + 1
        if windows < 1:
            raise ValueError(f"min_tokens must be at least {DEFAULT_N}")
        if not 1 <= self.stride <= windows:
            raise ValueError(f"stride must be between 1 and {windows} (min_tokens - 12)")

    @property
    def min_windows(self) -> int:
        return self.min_tokens - DEFAULT_N + 1


@dataclass
class Span:
    start: int
    end: int
    tokens: int
    items: list[str]
    tenants: list[str]
    kind: str
    confidence: float
    similarity: float | None = None
    first_token: int = field(default=0, repr=False)
    last_token: int = field(default=0, repr=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "start": self.start,
            "end": self.end,
            "tokens": self.tokens,
            "items": self.items,
            "tenants": self.tenants,
            "kind": self.kind,
            "confidence": round(self.confidence, 3),
        }
        if self.similarity is not None:
            out["similarity"] = round(self.similarity, 3)
        return out


@dataclass
class _Tenant:
    name: str
    k0: np.uint64
    k1: np.uint64
    ngrams: list[Segment]
    shingles: list[Segment]


@numba.njit(cache=True)
def _batch_samples(
    hashes: Any,
    docs: Any,
    stride: int,
    ngrams: Any,
    ngram_docs: Any,
    shingles: Any,
    shingle_docs: Any,
) -> tuple[int, int]:  # pragma: no cover - compiled
    """The windows a batch scan looks up, in one pass over the batch's tokens.

    13-word windows at every ``stride``-th position of each document, and
    5-word windows whose unkeyed hash is 0 mod ``SHINGLE_SAMPLE``, with their
    documents. A window never spans two documents. The rolling hashes are
    those of :func:`window_hashes`: r(t) = r(t-1)·B + h[t] − h[t−n]·Bⁿ.
    """
    base = np.uint64(0x100000001B3)
    pow_n = np.uint64(1)
    for _ in range(DEFAULT_N):
        pow_n *= base
    pow_s = np.uint64(1)
    for _ in range(SHINGLE_N):
        pow_s *= base
    sample = np.uint64(SHINGLE_SAMPLE)
    r_n = np.uint64(0)
    r_s = np.uint64(0)
    first = 0
    next_ngram = DEFAULT_N - 1  # the token that ends the next sampled 13-word window
    n_out = 0
    s_out = 0
    for t in range(hashes.shape[0]):
        h = hashes[t]
        if t > 0 and docs[t] != docs[t - 1]:
            first = t
            next_ngram = t + DEFAULT_N - 1
        r_n = r_n * base + h
        r_s = r_s * base + h
        if t >= DEFAULT_N:
            r_n -= hashes[t - DEFAULT_N] * pow_n
        if t >= SHINGLE_N:
            r_s -= hashes[t - SHINGLE_N] * pow_s
        if t == next_ngram:  # windows starting at first, first + stride, ... (no division)
            next_ngram += stride
            ngrams[n_out] = r_n
            ngram_docs[n_out] = docs[t]
            n_out += 1
        # Written every time, kept one time in four: a branch on the hash would be
        # mispredicted for a quarter of the tokens (a third of this pass's time).
        shingles[s_out] = r_s
        shingle_docs[s_out] = docs[t]
        s_out += (t - SHINGLE_N + 1 >= first) & (r_s % sample == 0)
    return n_out, s_out


def batch_samples_reference(
    hashes: list[int], docs: list[int], stride: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """What :func:`_batch_samples` computes, document by document: (window hash,
    document) of each 13-word window starting at 0, ``stride``, 2·``stride``, … of
    the document, and of each 5-word window whose hash is 0 mod ``SHINGLE_SAMPLE``."""
    from .fingerprint import window_hashes_reference

    ngrams, shingles = [], []
    starts = [t for t in range(len(docs)) if t == 0 or docs[t] != docs[t - 1]]
    for a, b in zip(starts, [*starts[1:], len(docs)][: len(starts)], strict=True):
        doc = docs[a]
        ngrams += [(h, doc) for h in window_hashes_reference(hashes[a:b], DEFAULT_N)[::stride]]
        shingles += [
            (h, doc)
            for h in window_hashes_reference(hashes[a:b], SHINGLE_N)
            if h % SHINGLE_SAMPLE == 0
        ]
    return ngrams, shingles


def _char_offset(data: np.ndarray, doc_start: int, byte: int) -> int:
    """Characters of the document before byte ``byte`` of the batch (UTF-8 lead bytes)."""
    part = data[doc_start:byte]
    if not part.size or int(part.max()) < 0x80:
        return byte - doc_start
    return int(np.count_nonzero((part & 0xC0) != 0x80))


@dataclass
class _Batch:
    """The flagged documents of a batch, for rescanning them all at once."""

    data: np.ndarray  # the batch's UTF-8
    doc_starts: np.ndarray  # byte where each flagged document begins
    hashes: np.ndarray  # every token of the batch
    byte_starts: np.ndarray
    byte_ends: np.ndarray
    firsts: np.ndarray  # each flagged document's tokens: [firsts[j], ends[j])
    ends: np.ndarray

    def span_at(self, j: int, first: int, last: int) -> tuple[int, int]:
        """Character offsets of the document's tokens [first, last] (document-local)."""
        g = int(self.firsts[j])
        at = int(self.doc_starts[j])
        return (
            _char_offset(self.data, at, int(self.byte_starts[g + first])),
            _char_offset(self.data, at, int(self.byte_ends[g + last])),
        )


class Matcher:
    """Holds the registry's memory-mapped segments and the tenants' keys."""

    def __init__(self, registry: Registry, config: ScanConfig | None = None) -> None:
        self.config = config or ScanConfig()
        self.registry = registry
        items = registry.items()
        self.item_ids = {code: item.id for code, item in items.items()}
        self.reference = registry.reference()
        segments = registry.segments()
        self.filter = registry.filter()
        # Buffers reused from batch to batch, one set per thread that scans.
        self._scratch = threading.local()
        self.tenants: list[_Tenant] = []
        platform = registry.keys.platform_key()
        if platform and registry.meta.get("platform_check") != platform_check(platform):
            platform = None  # another registry's: it would probe the filter in vain
        # Without the platform key no window can be probed: nothing is recognisable.
        self.platform = key_words(platform) if platform else (np.uint64(0), np.uint64(0))
        for name in registry.tenants() if platform else []:
            key = registry.keys.key(name)
            if key is None:
                continue  # no key here: this tenant's content cannot be recognised
            k0, k1 = key_words(key)
            self.tenants.append(
                _Tenant(
                    name,
                    k0,
                    k1,
                    [s for s in segments if s.tenant == name and s.kind == "ngram"],
                    [s for s in segments if s.tenant == name and s.kind == "shingle"],
                )
            )

    def warm_up(self) -> None:
        """Run every compiled kernel a scan uses, once, on made-up text: a process that
        forks workers after this hands them loaded code (~7 ms a kernel otherwise,
        in every worker, the first time a document is flagged)."""
        text = " ".join(f"w{i}" for i in range(2 * self.config.near_min_tokens))
        self.scan_many([text])
        tokenizer = BatchTokenizer()
        data, starts = join_utf8([text])
        hashes, _ = tokenizer.joined(data, starts)
        byte_starts, byte_ends = tokenizer.byte_offsets()
        everyone = np.ones((len(self.tenants), 1), dtype=bool)
        first, end = np.zeros(1, np.int64), np.full(1, len(hashes), np.int64)
        batch = _Batch(data, starts, hashes, byte_starts, byte_ends, first, end)
        self._rescan(batch, everyone, everyone)
        for t in self.tenants:
            for segment in t.ngrams[:1]:
                items_of([(segment, first, first)], first)
                holders(segment, first, first)

    def scan(self, text: str) -> tuple[list[Span], int]:
        """(spans of registered content, number of tokens) of one document.

        The plain definition, one step at a time: :meth:`scan_batch` finds the same
        spans for many documents at once, and the tests hold it to this."""
        tokens = tokenize(text)
        if not self.tenants or len(tokens) < DEFAULT_N:
            return [], len(tokens)
        spans = self._verbatim(tokens, self.tenants)
        if self.config.near_duplicates:
            spans += self._near(tokens, spans, self.tenants)
        spans = [s for s in spans if s.confidence >= self.config.min_confidence]
        spans.sort(key=lambda s: (s.start, s.end))
        return spans, len(tokens)

    def scan_many(self, texts: list[str]) -> list[tuple[list[Span], int]]:
        """:meth:`scan` for many documents, with one compiled pass for all of them."""
        if not texts:
            return []
        data, starts = join_utf8(texts)
        counts, found = self.scan_batch(data, starts, texts.__getitem__)
        return [(found.get(k, []), int(n)) for k, n in enumerate(counts.tolist())]

    def scan_batch(
        self, data: np.ndarray, starts: np.ndarray, text_of: Callable[[int], str]
    ) -> tuple[np.ndarray, dict[int, list[Span]]]:
        """Scan documents given as UTF-8 joined by newlines, document k starting at byte
        ``starts[k]``: (each document's token count, the spans of those that have any).

        The batch is tokenized as one text (each document starts a line, as it
        would alone), and the cheap checks — keyed lookups of the sampled
        13-word windows, counts of registered 5-word samples — run over every
        document at once. The documents a check flags are then searched in full
        (:meth:`_rescan`, all of them together, from the batch's tokens) for the
        tenants whose check they passed (a sampled hit; enough 5-word hits of one
        item): a tenant whose check fails cannot contribute a span, so the result
        is exactly :meth:`scan`'s. ``text_of(k)`` is called for each document with
        spans (the caller may read its id then), and for no other.
        """
        n_docs = len(starts)
        scratch = self._scratch
        if not hasattr(scratch, "tokenizer"):
            scratch.tokenizer = BatchTokenizer()
            scratch.samples = np.empty((4, 0), dtype=np.uint64)
        hashes, docs = scratch.tokenizer.joined(data, starts)
        byte_starts, byte_ends = scratch.tokenizer.byte_offsets()
        # Tokens come in document order: each document's count from where it starts.
        counts = np.diff(np.searchsorted(docs, np.arange(n_docs + 1, dtype=docs.dtype)))
        verbatim = np.zeros((len(self.tenants), n_docs), dtype=bool)
        near = np.zeros((len(self.tenants), n_docs), dtype=bool)
        if self.tenants and len(hashes):
            samples = scratch.samples
            if samples.shape[1] < len(hashes):
                size = max(len(hashes), samples.shape[1] + samples.shape[1] // 4)
                scratch.samples = samples = np.empty((4, size), dtype=np.uint64)
            n_ngram, n_shingle = _batch_samples(
                hashes, docs, self.config.stride, samples[0], samples[1], samples[2], samples[3]
            )
            ngrams, ngram_docs = samples[0, :n_ngram], samples[1, :n_ngram].view(np.int64)
            shingles, shingle_docs = samples[2, :n_shingle], samples[3, :n_shingle].view(np.int64)
            # Keyed once for all tenants; only what the filter may hold goes on.
            rows, ngrams = bloom.passing(self.filter, ngrams, *self.platform)
            ngram_docs = ngram_docs[rows]
            rows, shingles = bloom.passing(self.filter, shingles, *self.platform)
            shingle_docs = shingle_docs[rows]
            for k, t in enumerate(self.tenants):
                fps = permute(ngrams, t.k0, t.k1)
                for seg in t.ngrams:
                    lo, hi = bounds(seg.fp, fps)
                    verbatim[k, ngram_docs[hi > lo]] = True
                if self.config.near_duplicates and t.shingles:
                    near[k] = self._near_candidates(t, shingles, shingle_docs, n_docs)
        flagged = np.flatnonzero(verbatim.any(axis=0) | near.any(axis=0))
        if not len(flagged):
            return counts, {}
        # The flagged documents' tokens, from the batch's own (tokens are in order).
        firsts = np.searchsorted(docs, flagged, side="left")
        batch = _Batch(
            data, np.asarray(starts)[flagged], hashes, byte_starts, byte_ends,
            firsts, firsts + counts[flagged],
        )  # fmt: skip
        spans = self._rescan(batch, verbatim[:, flagged], near[:, flagged])
        found: dict[int, list[Span]] = {}
        for j, doc_spans in spans.items():
            doc_spans = [s for s in doc_spans if s.confidence >= self.config.min_confidence]
            if doc_spans:
                doc_spans.sort(key=lambda s: (s.start, s.end))
                found[int(flagged[j])] = doc_spans
        for i in found:
            text_of(i)  # the caller reads what it needs of a document with findings
        return counts, found

    def _rescan(
        self, batch: _Batch, verbatim: np.ndarray, near: np.ndarray
    ) -> dict[int, list[Span]]:
        """:meth:`scan` of every flagged document at once (``verbatim[k, j]``: tenant k
        flagged document j for verbatim matches; ``near``: for near-duplicates), from
        the batch's tokens: the same spans, in the same order, before the confidence
        filter; a few array operations for all of them instead of dozens per document."""
        spans: dict[int, list[Span]] = {}
        self._verbatim_many(batch, verbatim, spans)
        if self.config.near_duplicates:
            self._near_many(batch, near, spans)
        return spans

    def _near_candidates(
        self, t: _Tenant, platform: np.ndarray, doc_of: np.ndarray, docs: int
    ) -> np.ndarray:
        """Documents where one item of tenant ``t`` holds enough sampled 5-word windows
        (``platform``: the platform fingerprints of the samples the filter passed).

        The final test asks one item to hold near_min_hits samples of a region,
        so a document needs that many hits of one item, ordinary phrases aside.
        """
        cfg = self.config
        enough = np.zeros(docs, dtype=bool)
        fps = permute(platform, t.k0, t.k1)
        for seg in t.shingles:
            lo, hi = bounds(seg.fp, fps)
            ordinary = hi - lo >= cfg.common_items  # a phrase of many items counts for nothing
            hi[ordinary] = lo[ordinary]
            if np.count_nonzero(hi > lo) < cfg.near_min_hits:
                continue
            rows, items = holders(seg, lo, hi)
            pair = doc_of[rows] * (int(items.max()) + 1) + items
            keys, per_pair = np.unique(pair, return_counts=True)
            strong = keys[per_pair >= cfg.near_min_hits] // (int(items.max()) + 1)
            enough[strong] = True
        return enough

    def _span(
        self,
        kind: str,
        where: tuple[int, int],
        first: int,
        last: int,
        items: Iterable[int],
        tenants: list[str],
        confidence: float,
        similarity: float | None = None,
    ) -> Span:
        """A span of tokens [first, last] at characters ``where`` (start, end)."""
        return Span(
            start=where[0],
            end=where[1],
            tokens=last - first + 1,
            items=sorted(self.item_ids.get(i, f"#{i}") for i in items),
            tenants=tenants,
            kind=kind,
            confidence=confidence,
            similarity=similarity,
            first_token=first,
            last_token=last,
        )

    def _best_items(self, codes: np.ndarray, samples: int) -> tuple[list[int], float] | None:
        """The items holding most of a region's hits (``codes``: one per (hit, item)) and
        their share of its ``samples``, if one item holds enough of them by itself: an
        edited copy is a copy of something, not a few phrases of many items."""
        cfg = self.config
        held, hits = np.unique(codes, return_counts=True)
        best = int(hits.max()) if len(hits) else 0
        if best < cfg.near_min_similarity * samples or best < cfg.near_min_hits:
            return None
        return held[hits == best].tolist(), best / samples

    def _probe(self, windows: np.ndarray) -> Probe:
        rows, platform = bloom.passing(self.filter, windows, *self.platform)
        return Probe(len(windows), rows, platform)

    # --- verbatim -----------------------------------------------------------------------

    def _verbatim(self, tokens: Tokens, tenants: list[_Tenant]) -> list[Span]:
        cfg = self.config
        windows = window_hashes(tokens.hashes, DEFAULT_N)
        probe = self._probe(windows)
        if not len(probe.rows):
            return []
        at_stride = probe.platform[probe.rows % cfg.stride == 0]  # the windows a batch samples
        members: dict[str, tuple[np.ndarray, Found]] = {}
        common = np.zeros(len(windows), dtype=bool)
        for t in tenants:
            if not is_held(t.ngrams, permute(at_stride, t.k0, t.k1)).any():
                continue
            held, found = held_by(probe, t.k0, t.k1, t.ngrams)
            member = held > 0
            if runs(member, cfg.min_windows):
                members[t.name] = (member, found)
                common |= held >= cfg.common_items
        if not members:
            return []
        counts = np.zeros(len(windows), dtype=np.int64)
        for member, _ in members.values():
            counts += member
        common |= counts >= cfg.common_tenants
        if len(self.reference):
            at = np.searchsorted(self.reference, windows)
            at[at >= len(self.reference)] = len(self.reference) - 1
            common |= self.reference[at] == windows
        spans = []
        for a, b in runs(counts > 0, cfg.min_windows):
            names = sorted(n for n, (m, _) in members.items() if m[a:b].any())
            items: set[int] = set()
            for name in names:
                member, found = members[name]
                items.update(items_of(found, a + np.flatnonzero(member[a:b])).tolist())
            first, last = a, b - 1 + DEFAULT_N - 1
            where = int(tokens.starts[first]), int(tokens.ends[last])
            confidence = 1.0 - np.count_nonzero(common[a:b]) / (b - a)
            spans.append(self._span("verbatim", where, first, last, items, names, confidence))
        return spans

    def _verbatim_many(
        self, batch: _Batch, flags: np.ndarray, spans: dict[int, list[Span]]
    ) -> None:
        """:meth:`_verbatim` for every flagged document of a batch at once."""
        cfg = self.config
        windows, offsets = doc_windows(batch.hashes, batch.firsts, batch.ends, DEFAULT_N)
        doc_of = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        rows, platform = bloom.passing(self.filter, windows, *self.platform)
        counts = np.zeros(len(windows), dtype=np.int64)
        common = np.zeros(len(windows), dtype=bool)
        members: list[tuple[str, np.ndarray, Found]] = []
        for k, t in enumerate(self.tenants):
            if not flags[k].any():
                continue
            mine = flags[k][doc_of[rows]]  # only the documents that flagged this tenant
            held, found = held_by(
                Probe(len(windows), rows[mine], platform[mine]), t.k0, t.k1, t.ngrams
            )
            member = held > 0
            runs = runs_many(member, offsets, cfg.min_windows)
            if not len(runs):
                continue
            # A tenant counts in a document only where it has a run long enough.
            counted = np.zeros(len(offsets) - 1, dtype=bool)
            counted[runs[:, 0]] = True
            keep = counted[doc_of]
            member &= keep
            counts += member
            common |= (held >= cfg.common_items) & keep
            members.append((t.name, member, found))
        if not members:
            return
        common |= counts >= cfg.common_tenants
        if len(self.reference):
            at = np.searchsorted(self.reference, windows)
            at[at >= len(self.reference)] = len(self.reference) - 1
            common |= self.reference[at] == windows
        for j, a, b in runs_many(counts > 0, offsets, cfg.min_windows).tolist():
            names = sorted(name for name, m, _ in members if m[a:b].any())
            items: set[int] = set()
            for name, member, found in members:
                if name in names:
                    items.update(items_of(found, a + np.flatnonzero(member[a:b])).tolist())
            first = a - int(offsets[j])
            last = b - int(offsets[j]) - 1 + DEFAULT_N - 1
            where = batch.span_at(j, first, last)
            confidence = 1.0 - np.count_nonzero(common[a:b]) / (b - a)
            spans.setdefault(j, []).append(
                self._span("verbatim", where, first, last, items, names, confidence)
            )

    def _near_many(self, batch: _Batch, flags: np.ndarray, spans: dict[int, list[Span]]) -> None:
        """:meth:`_near` for every flagged document of a batch at once; ``spans`` holds
        their verbatim spans (a region mostly covered by them is not reported again)."""
        cfg = self.config
        windows, offsets = doc_windows(batch.hashes, batch.firsts, batch.ends, SHINGLE_N)
        doc_of = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        sample = windows % np.uint64(SHINGLE_SAMPLE) == 0
        sampled_at = np.flatnonzero(sample)
        rows, platform = bloom.passing(self.filter, windows[sample], *self.platform)
        long_enough = batch.ends - batch.firsts >= cfg.near_min_tokens
        covered = {
            j: [(s.first_token, s.last_token) for s in doc_spans] for j, doc_spans in spans.items()
        }
        for k, t in enumerate(self.tenants):
            if not t.shingles or not (flags[k] & long_enough).any():
                continue
            mine = flags[k][doc_of[sampled_at[rows]]]
            probe = Probe(len(sampled_at), rows[mine], platform[mine])
            held = np.zeros(len(windows), dtype=np.int64)
            held[sample], found = held_by(probe, t.k0, t.k1, t.shingles)
            # A 5-word phrase several items share is ordinary speech, not evidence:
            # it counts neither as a hit nor as a sample.
            ordinary = held >= cfg.common_items
            sampled = sample & ~ordinary
            hit = (held > 0) & ~ordinary
            running = np.concatenate([[0], np.cumsum(hit)])
            hits_per_doc = running[offsets[1:]] - running[offsets[:-1]]
            eligible = flags[k] & long_enough & (np.diff(offsets) >= cfg.near_min_tokens)
            eligible[eligible] &= hits_per_doc[eligible] >= 2
            regions = dense_regions_many(
                hit, sampled, offsets, eligible, cfg.near_min_tokens, cfg.near_min_similarity
            )
            for j, a, b in regions.tolist():
                first = a - int(offsets[j])
                last = b - int(offsets[j]) - 1 + SHINGLE_N - 1
                if last - first + 1 < cfg.near_min_tokens // 2:
                    continue
                inside = np.zeros(last - first + 1, dtype=bool)
                for s_first, s_last in covered.get(j, []):
                    inside[max(s_first - first, 0) : max(s_last + 1 - first, 0)] = True
                if inside.mean() > 0.8:
                    continue  # already reported as verbatim
                samples = max(int(np.count_nonzero(sampled[a:b])), 1)
                # The region's hits, as places among the sampled windows looked up.
                looked_up = np.searchsorted(sampled_at, a + np.flatnonzero(hit[a:b]))
                best = self._best_items(items_of(found, looked_up), samples)
                if best is not None:
                    where = batch.span_at(j, first, last)
                    spans.setdefault(j, []).append(
                        self._span(
                            "near_duplicate", where, first, last, best[0], [t.name], 1.0, best[1]
                        )
                    )

    # --- near-duplicates ----------------------------------------------------------------

    def _near(self, tokens: Tokens, verbatim: list[Span], tenants: list[_Tenant]) -> list[Span]:
        cfg = self.config
        if len(tokens) < cfg.near_min_tokens:
            return []
        windows = window_hashes(tokens.hashes, SHINGLE_N)
        sample = windows % np.uint64(SHINGLE_SAMPLE) == 0
        sampled_windows = windows[sample]
        probe = self._probe(sampled_windows)
        covered = np.zeros(len(tokens), dtype=bool)
        for s in verbatim:
            covered[s.first_token : s.last_token + 1] = True
        spans = []
        for t in tenants:
            if not t.shingles:
                continue
            if not len(sampled_windows):
                continue
            sampled = sample.copy()
            held = np.zeros(len(windows), dtype=np.int64)
            held[sampled], found = held_by(probe, t.k0, t.k1, t.shingles)
            # A 5-word phrase several items share is ordinary speech, not evidence:
            # it counts neither as a hit nor as a sample.
            ordinary = held >= cfg.common_items
            sampled &= ~ordinary
            hit = (held > 0) & ~ordinary
            if hit.sum() < 2 or len(windows) < cfg.near_min_tokens:
                continue
            regions = dense_regions(hit, sampled, cfg.near_min_tokens, cfg.near_min_similarity)
            for a, b in regions.tolist():
                first, last = a, b - 1 + SHINGLE_N - 1
                if last - first + 1 < cfg.near_min_tokens // 2:
                    continue
                if covered[first : last + 1].mean() > 0.8:
                    continue  # already reported as verbatim
                # An edited copy is a copy of something: one item must hold most of
                # the region's samples by itself, not many items a few each.
                samples = max(int(sampled[a:b].sum()), 1)
                # The region's hits, as places among the sampled windows looked up.
                # A hit's place among the sampled windows: how many were sampled before it.
                looked_up = np.searchsorted(np.flatnonzero(sample), a + np.flatnonzero(hit[a:b]))
                best = self._best_items(items_of(found, looked_up), samples)
                if best is not None:
                    where = int(tokens.starts[first]), int(tokens.ends[last])
                    spans.append(
                        self._span(
                            "near_duplicate", where, first, last, best[0], [t.name], 1.0, best[1]
                        )
                    )
        return spans
