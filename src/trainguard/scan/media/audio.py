"""Audio fingerprints: landmarks, in the spirit of Wang's method (Shazam, audfprint).

The mono signal at 8 kHz is cut into 64 ms frames every 32 ms; each frame's
log-magnitude spectrum (257 bins) is taken. A *peak* is a time-frequency cell
that is the loudest within ±``PEAK_FRAMES`` frames and ±``PEAK_BINS`` bins and
stands above the recording's median level — the cells that survive lossy codecs,
resampling, gain and noise, because they are what the codec keeps and the noise
rarely beats. Each peak (the *anchor*) is paired with the next ``FANOUT`` peaks
that follow it within 63 frames (2 s) and ±31 bins; a pair is the 21-bit
landmark ``(f1, f2 - f1, dt)``, kept with the anchor's frame.

Two recordings share content when many landmarks agree on one time offset:
each landmark of a scanned recording found in the registry votes for
(item, registered frame - scanned frame); the votes of an item within one frame
of its best offset are its aligned matches. A clip mixed into a longer file
still agrees on one offset, so clips are found and located in both files.

Landmark values are keyed per tenant before they are stored (see
:func:`keyed_table`): the registry holds SipHash-2-4 values of landmarks under
the tenant's key, their frames and item codes, nothing that can be compared
with a recording without the key.
"""

from __future__ import annotations

import numba
import numpy as np

from ..fingerprint import key_words, keyed
from .decode import AUDIO_RATE

N_FFT = 512
HOP = 256
FRAME_SECONDS = HOP / AUDIO_RATE  # 32 ms
PEAK_FRAMES = 4  # a peak is the loudest within ±4 frames (±128 ms) ...
PEAK_BINS = 12  # ... and ±12 bins (±188 Hz)
FANOUT = 4
MAX_DT = 63
MAX_DF = 31
LANDMARK_BITS = 21  # 9 bits f1, 6 bits df, 6 bits dt
_WINDOW = np.hanning(N_FFT).astype(np.float32)


_CHUNK = 4096  # frames per block: the block's spectrum stays in cache


def _frames(samples: np.ndarray) -> np.ndarray:
    if samples.size < N_FFT:
        samples = np.pad(samples, (0, N_FFT - samples.size))
    n = 1 + (samples.size - N_FFT) // HOP
    return np.lib.stride_tricks.as_strided(
        samples, shape=(n, N_FFT), strides=(samples.strides[0] * HOP, samples.strides[0])
    )


def _log_spectrum(frames: np.ndarray) -> np.ndarray:
    spec = np.abs(np.fft.rfft(frames * _WINDOW, axis=1))
    out: np.ndarray = np.log(spec.astype(np.float32) + np.float32(1e-6))
    return out


@numba.njit(cache=True)
def _block_peaks(
    spec: np.ndarray, floor: np.float32, first: int, last: int, half_t: int, half_f: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """(row, bin) of the cells in rows [first, last) that are the maximum of their
    ±half_t rows and ±half_f bins and above ``floor``. The maximum across bins is a
    van Herk / Gil-Werman running maximum: three comparisons a cell whatever the width."""
    rows, n = spec.shape
    w = 2 * half_f + 1
    size = ((n + 2 * half_f + w - 1) // w) * w
    padded = np.full(size, np.float32(-1e30))
    left = np.empty(size, np.float32)
    right = np.empty(size, np.float32)
    across = np.empty((rows, n), np.float32)
    for r in range(rows):
        padded[half_f : half_f + n] = spec[r]
        for start in range(0, size, w):
            left[start] = padded[start]
            for i in range(start + 1, start + w):
                left[i] = max(left[i - 1], padded[i])
            right[start + w - 1] = padded[start + w - 1]
            for i in range(start + w - 2, start - 1, -1):
                right[i] = max(right[i + 1], padded[i])
        for i in range(n):
            across[r, i] = max(right[i], left[i + w - 1])
    ts = []
    fs = []
    for r in range(first, last):
        lo = max(0, r - half_t)
        hi = min(rows, r + half_t + 1)
        for i in range(n):
            v = spec[r, i]
            if v <= floor or v != across[r, i]:
                continue
            peak = True
            for q in range(lo, hi):
                if across[q, i] > v:
                    peak = False
                    break
            if peak:
                ts.append(r)
                fs.append(i)
    return np.array(ts, dtype=np.int32), np.array(fs, dtype=np.int32)


def peaks(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frame, bin) of every peak of a recording at AUDIO_RATE, sorted by frame."""
    frames = _frames(samples)
    n = frames.shape[0]
    # The level to stand above: the median of every 16th frame's spectrum.
    floor = np.float32(np.median(_log_spectrum(frames[::16])) + 1.0)
    ts, fs = [], []
    for first in range(0, n, _CHUNK):
        last = min(n, first + _CHUNK)
        lo, hi = max(0, first - PEAK_FRAMES), min(n, last + PEAK_FRAMES)
        spec = _log_spectrum(frames[lo:hi])
        t, f = _block_peaks(spec, floor, first - lo, last - lo, PEAK_FRAMES, PEAK_BINS)
        ts.append(t + lo)
        fs.append(f)
    return np.concatenate(ts).astype(np.int32), np.concatenate(fs).astype(np.int32)


@numba.njit(cache=True)
def _pairs(
    t: np.ndarray, f: np.ndarray, fanout: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    n = t.size
    hashes = np.empty(n * fanout, np.uint32)
    times = np.empty(n * fanout, np.uint32)
    k = 0
    for i in range(n):
        made = 0
        for j in range(i + 1, n):
            dt = t[j] - t[i]
            if dt > MAX_DT:
                break
            if dt < 1:
                continue
            df = f[j] - f[i]
            if df < -MAX_DF or df > MAX_DF:
                continue
            hashes[k] = (np.uint32(f[i]) << 12) | (np.uint32(df + 32) << 6) | np.uint32(dt)
            times[k] = t[i]
            k += 1
            made += 1
            if made == fanout:
                break
    return hashes[:k], times[:k]


def landmarks(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(21-bit landmark, anchor frame) pairs of a recording at AUDIO_RATE."""
    t, f = peaks(samples)
    return _pairs(t, f, FANOUT)


def keyed_table(key: bytes) -> np.ndarray:
    """Every landmark's keyed value under a tenant's key (uint32, 2^21 entries): the
    low 32 bits of SipHash-2-4, so two landmarks share a value only by chance."""
    k0, k1 = key_words(key)
    values = keyed(np.arange(1 << LANDMARK_BITS, dtype=np.uint64), k0, k1)
    return (values & np.uint64(0xFFFFFFFF)).astype(np.uint32)


@numba.njit(cache=True)
def _votes(
    q_hash: np.ndarray,
    q_time: np.ndarray,
    r_hash: np.ndarray,
    r_item: np.ndarray,
    r_time: np.ndarray,
    max_postings: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """(item, offset, query frame) of every registered landmark a query landmark finds."""
    lo = np.searchsorted(r_hash, q_hash, side="left")
    hi = np.searchsorted(r_hash, q_hash, side="right")
    total = 0
    for i in range(q_hash.size):
        if hi[i] - lo[i] <= max_postings:
            total += hi[i] - lo[i]
    items = np.empty(total, np.int64)
    offsets = np.empty(total, np.int64)
    frames = np.empty(total, np.int64)
    k = 0
    for i in range(q_hash.size):
        if hi[i] - lo[i] > max_postings:
            continue  # a landmark this common says nothing about one recording
        for p in range(lo[i], hi[i]):
            items[k] = r_item[p]
            offsets[k] = np.int64(r_time[p]) - np.int64(q_time[i])
            frames[k] = q_time[i]
            k += 1
    return items, offsets, frames


MAX_POSTINGS = 2000


def match(
    q_hash: np.ndarray,
    q_time: np.ndarray,
    r_hash: np.ndarray,
    r_item: np.ndarray,
    r_time: np.ndarray,
) -> list[tuple[int, int, int, int, int]]:
    """For each registered item some landmarks agree with: (item, aligned matches,
    offset in frames (registered - scanned), first and last scanned frame aligned),
    best first. ``q_hash`` is already keyed like ``r_hash`` (sorted)."""
    if q_hash.size == 0 or r_hash.size == 0:
        return []
    items, offsets, frames = _votes(q_hash, q_time, r_hash, r_item, r_time, MAX_POSTINGS)
    if items.size == 0:
        return []
    key = (items << 32) + (offsets + (1 << 31))
    order = np.argsort(key, kind="stable")
    key, frames = key[order], frames[order]
    uniq, start, counts = np.unique(key, return_index=True, return_counts=True)
    u_item = uniq >> 32
    u_off = (uniq & 0xFFFFFFFF) - (1 << 31)
    # Votes within one frame of an offset count for it: resampling and codecs move
    # peaks by a frame. Keys are sorted by (item, offset), so each item's offsets
    # are a sorted run and the votes near each offset are a difference of sums.
    total = np.concatenate([[0], np.cumsum(counts)])
    # (An offset is far from ±2^31 frames, so key ± 1 never reaches another item.)
    near = total[np.searchsorted(uniq, uniq + 1, "right")] - total[np.searchsorted(uniq, uniq - 1)]
    items_seen, first = np.unique(u_item, return_index=True)
    ends = np.append(first[1:], u_item.size)
    out = []
    for item, lo, hi in zip(items_seen.tolist(), first.tolist(), ends.tolist(), strict=True):
        best = lo + int(np.argmax(near[lo:hi]))
        o = int(u_off[best])
        chosen = lo + np.nonzero(np.abs(u_off[lo:hi] - o) <= 1)[0]
        q_frames = np.concatenate([frames[start[c] : start[c] + counts[c]] for c in chosen])
        out.append((int(item), int(near[best]), o, int(q_frames.min()), int(q_frames.max())))
    out.sort(key=lambda r: -r[1])
    return out


# --- plain references: the kernels above, as their definitions -----------------------


def block_peaks_reference(
    spec: np.ndarray, floor: float, first: int, last: int, half_t: int, half_f: int
) -> list[tuple[int, int]]:
    """What :func:`_block_peaks` computes: each cell of rows [first, last) above
    ``floor`` that is the maximum of the rows ±half_t and bins ±half_f around it."""
    n = spec.shape[1]
    return [
        (r, i)
        for r in range(first, last)
        for i in range(n)
        if spec[r, i] > floor
        and spec[r, i]
        == spec[max(0, r - half_t) : r + half_t + 1, max(0, i - half_f) : i + half_f + 1].max()
    ]


def pairs_reference(t: list[int], f: list[int], fanout: int) -> list[tuple[int, int]]:
    """What :func:`_pairs` computes from peaks sorted by frame: each peak paired with
    the first ``fanout`` later peaks 1 to MAX_DT frames after it and within MAX_DF
    bins, as (landmark: 9 bits bin, 6 bits bin difference + 32, 6 bits frame
    difference; anchor frame)."""
    out = []
    for i in range(len(t)):
        near = [j for j in range(i + 1, len(t))
                if 1 <= t[j] - t[i] <= MAX_DT and abs(f[j] - f[i]) <= MAX_DF]  # fmt: skip
        for j in near[:fanout]:
            out.append(((f[i] << 12) | ((f[j] - f[i] + 32) << 6) | (t[j] - t[i]), t[i]))
    return out


def votes_reference(
    q_hash: list[int],
    q_time: list[int],
    r_hash: list[int],
    r_item: list[int],
    r_time: list[int],
    max_postings: int,
) -> list[tuple[int, int, int]]:
    """What :func:`_votes` computes: (item, registered − query frame, query frame) of
    every registered landmark equal to a query landmark, skipping a query landmark
    registered more than ``max_postings`` times."""
    out = []
    for q, at in zip(q_hash, q_time, strict=True):
        postings = [p for p, h in enumerate(r_hash) if h == q]
        if len(postings) <= max_postings:
            out += [(r_item[p], r_time[p] - at, at) for p in postings]
    return out
