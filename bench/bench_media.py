"""Media fingerprints, side by side in one run (JSON on stdout), one core:

- audio: hours scanned per core-hour (decode + landmarks + match against a
  registry), next to decoding alone (the floor);
- images: per second, decode + hash alone, and the whole scan;
- registry bytes per second of audio and per image;
- recall and false-positive rate per transformation (audio, slides; the slides
  with the whole picture hash alone and with the centre check and crops), on
  generated slides and on the real slides of tests/data/slides;
- multi-index hashing against a linear scan (numpy popcount) at 1M and 10M hashes;
- video: registry bytes per second of a screen share with and without its stills'
  keypoints, recall of crops of its frames (cropped screenshots, cropped clips),
  false positives among unregistered slides of the same templates, and seconds of
  video scanned per CPU second with and without the crop search.

Run: python bench/bench_media.py [--minutes 20] [--quick] [--part video ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ImageEnhance

from _common import machine, single_core
from trainguard.scan.keys import KeyRing
from trainguard.scan.media import MediaRegistry
from trainguard.scan.media import samples as S
from trainguard.scan.media.decode import decode, decode_audio, image_frame
from trainguard.scan.media.image import dct_hash
from trainguard.scan.media.index import MultiIndex, linear_search
from trainguard.scan.media.matcher import MediaConfig, MediaMatcher
from trainguard.scan.media.store import fingerprint

RATE = 16000


def cpu(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def noisy(x: np.ndarray, snr_db: float) -> np.ndarray:
    n = np.random.default_rng(0).standard_normal(x.size).astype(np.float32)
    n *= np.sqrt(np.mean(x**2) / 10 ** (snr_db / 10) / np.mean(n**2))
    return np.clip(x + n, -1, 1)


AUDIO_TRANSFORMS: dict[str, Callable[[np.ndarray], bytes]] = {
    "mp3 48 kbps": lambda x: S.encode_audio(x, RATE, "mp3", "libmp3lame", 48000),
    "AAC 32 kbps": lambda x: S.encode_audio(x, RATE, "adts", "aac", 32000),
    "Opus 16 kbps": lambda x: S.encode_audio(x, RATE, "ogg", "libopus", 16000, 48000),
    "resampled 44.1 kHz": lambda x: S.encode_audio(x, RATE, "wav", "pcm_s16le", None, 44100),
    "gain -10 dB": lambda x: S.encode_audio(x * 0.316, RATE),
    "noise 10 dB SNR": lambda x: S.encode_audio(noisy(x, 10), RATE),
}


def crop(img: Any, f: float) -> Any:
    w, h = img.size
    return img.crop((int(w * f), int(h * f), w - int(w * f), h - int(h * f)))


IMAGE_TRANSFORMS: dict[str, Callable[[Any], bytes]] = {
    "JPEG q30": lambda s: S.image_bytes(s.convert("RGB"), "JPEG", quality=30),
    "WebP q50": lambda s: S.image_bytes(s.convert("RGB"), "WEBP", quality=50),
    "scaled 1/2": lambda s: S.image_bytes(s.resize((s.width // 2, s.height // 2))),
    "scaled 1/4": lambda s: S.image_bytes(s.resize((s.width // 4, s.height // 4))),
    "brightness +30%": lambda s: S.image_bytes(ImageEnhance.Brightness(s).enhance(1.3)),
    "crop 2%": lambda s: S.image_bytes(crop(s, 0.02)),
    "crop 5%": lambda s: S.image_bytes(crop(s, 0.05)),
    "crop 10%": lambda s: S.image_bytes(crop(s, 0.10)),
    "crop 20%": lambda s: S.image_bytes(crop(s, 0.20)),
    "crop up to 10% a side, resized, JPEG q75": lambda s: S.image_bytes(
        random_crop(s, 0.10).resize(s.size).convert("RGB"), "JPEG", quality=75
    ),
}


def random_crop(img: Any, most: float) -> Any:
    """Each side cut by its own share, drawn from the picture's own pixels (reproducible)."""
    rng = np.random.default_rng(int(np.asarray(img.convert("L"))[::37, ::41].sum()))
    w, h = img.size
    left, top, right, bottom = rng.uniform(0, most, 4)
    return img.crop((int(w * left), int(h * top), w - int(w * right), h - int(h * bottom)))


# The picture evidence with and without what brings slide false positives down.
PICTURE_CONFIGS = {
    "whole hash only (before)": MediaConfig(centre_check=False, crops=False),
    "whole and centre hashes, and crops, every keypoint pair weighing 1": MediaConfig(
        crop_min_weight=0
    ),
    "whole and centre hashes, and crops (default)": MediaConfig(),
}


def quality(base: Path, n_rec: int, n_slides: int) -> dict[str, Any]:
    keys = KeyRing(base / "keys")
    registry = MediaRegistry(base / "quality", keys)
    recs = {f"r{s}": S.speech_like(s, 30, RATE) for s in range(n_rec)}
    slides = {f"s{i}": S.slide(i, 3) for i in range(n_slides)}
    entries = [(k, None, fingerprint(decode(S.encode_audio(x, RATE), k))) for k, x in recs.items()]
    entries += [(k, None, fingerprint(decode(S.image_bytes(s), k))) for k, s in slides.items()]
    registry.add("acme", entries)
    matcher = MediaMatcher(registry, keys)

    def top(data: bytes, m: MediaMatcher = matcher) -> list[str]:
        return [s["item"] for s in m.find(fingerprint(decode(data, "q")))]

    audio = {
        n: sum(k in top(t(x)) for k, x in recs.items()) / len(recs)
        for n, t in AUDIO_TRANSFORMS.items()
    }
    longer = S.speech_like(999, 60, RATE)
    clips = 0
    for k, x in recs.items():
        mixed = longer.copy()
        mixed[20 * RATE : 32 * RATE] = 0.3 * mixed[20 * RATE : 32 * RATE] + x[5 * RATE : 17 * RATE]
        clips += k in top(S.encode_audio(np.clip(mixed, -1, 1), RATE, "mp3", "libmp3lame", 48000))
    audio["12 s clip mixed into 60 s, mp3"] = clips / len(recs)
    unreg = [
        S.encode_audio(S.speech_like(s, 30, RATE), RATE, "mp3", "libmp3lame", 48000)
        for s in range(1000, 1000 + 2 * n_rec)
    ]
    audio_fpr = sum(bool(top(d)) for d in unreg) / len(unreg)
    scanned = {n: {k: t(s) for k, s in slides.items()} for n, t in IMAGE_TRANSFORMS.items()}
    same_template = [S.image_bytes(S.slide(i, 3)) for i in range(1000, 1000 + 4 * n_slides)]
    same_cropped = [
        S.image_bytes(crop(S.slide(i, 3), 0.05)) for i in range(2000, 2000 + 2 * n_slides)
    ]
    other_decks = [S.image_bytes(S.slide(i, d)) for d in (0, 1, 2, 4) for i in range(n_slides)]
    images = {}
    for name, config in PICTURE_CONFIGS.items():
        m = MediaMatcher(registry, keys, config)
        images[name] = {
            "recall": {
                n: sum(k in top(d, m) for k, d in by_slide.items()) / len(slides)
                for n, by_slide in scanned.items()
            },
            "false_positive_rate": {
                f"{len(same_template)} unregistered slides of the template": sum(
                    bool(top(d, m)) for d in same_template
                ) / len(same_template),
                f"{len(same_cropped)} of them cropped 5%": sum(
                    bool(top(d, m)) for d in same_cropped
                ) / len(same_cropped),
                f"{len(other_decks)} slides of other decks": sum(
                    bool(top(d, m)) for d in other_decks
                ) / len(other_decks),
            },
        }  # fmt: skip
    return {
        "registered": {"recordings_30s": n_rec, "slides": n_slides},
        "audio_recall": audio,
        "audio_false_positive_rate_unregistered_recordings": audio_fpr,
        "images": images,
    }


SLIDES = Path(__file__).resolve().parent.parent / "tests" / "data" / "slides"


def real_slides(base: Path) -> dict[str, Any]:
    """The 40 pages of the beamer example decks (tests/data/slides): every other page of
    each deck registered; recall on the transformations of those, false positives
    among the other pages of the same decks (the same theme and layout) and crops of
    them. Findings per page: an unregistered page found is a false positive whatever
    it is found as."""
    from PIL import Image

    keys = KeyRing(base / "keys")
    registry = MediaRegistry(base / "real", keys)
    pages = sorted(SLIDES.glob("*.jpg"))
    decks = sorted({p.name.rsplit("-p", 1)[0] for p in pages})
    registered, others = [], []
    for deck in decks:
        own = [p for p in pages if p.name.rsplit("-p", 1)[0] == deck]
        registered += own[0::2]
        others += own[1::2]
    registry.add(
        "acme", [(p.stem, None, fingerprint(decode(p.read_bytes(), p.name))) for p in registered]
    )
    out: dict[str, Any] = {
        "decks": decks,
        "registered_pages": len(registered),
        "unregistered_pages": len(others),
    }
    for name, config in PICTURE_CONFIGS.items():
        m = MediaMatcher(registry, keys, config)

        def top(data: bytes, m: MediaMatcher = m) -> list[str]:
            return [s["item"] for s in m.find(fingerprint(decode(data, "q")))]

        images = {p.stem: Image.open(p).convert("RGB") for p in registered}
        recall = {
            n: sum(k in top(t(img)) for k, img in images.items()) / len(images)
            for n, t in IMAGE_TRANSFORMS.items()
        }
        found = [p.stem for p in others if top(p.read_bytes())]
        cropped = [
            p.stem for p in others
            if top(S.image_bytes(crop(Image.open(p).convert("RGB"), 0.05)))
        ]  # fmt: skip
        out[name] = {
            "recall": recall,
            "false_positives": {
                "unregistered pages": f"{len(found)} of {len(others)}",
                "unregistered pages cropped 5%": f"{len(cropped)} of {len(others)}",
                "found": sorted(set(found + cropped)),
            },
        }
    return out


def throughput(base: Path, minutes: float) -> dict[str, Any]:
    keys = KeyRing(base / "keys")
    registry = MediaRegistry(base / "throughput", keys)
    # Ten registered 30 s recordings and 100 slides; the scanned audio is other speech.
    registry.add(
        "acme",
        [
            (
                f"r{s}",
                None,
                fingerprint(decode(S.encode_audio(S.speech_like(s, 30, RATE), RATE), "r")),
            )
            for s in range(10)
        ],
    )
    registry.add(
        "acme",
        [
            (f"s{i}", None, fingerprint(decode(S.image_bytes(S.slide(i, 3)), "s")))
            for i in range(100)
        ],
    )
    matcher = MediaMatcher(registry, keys)
    five = S.speech_like(77, 300, RATE)
    long = np.tile(five, max(1, round(minutes / 5)))
    mp3 = S.encode_audio(long, RATE, "mp3", "libmp3lame", 48000)
    seconds = long.size / RATE
    decode_only, _ = cpu(lambda: decode_audio(mp3, "a.mp3"))
    full, _ = cpu(lambda: matcher.find(fingerprint(decode(mp3, "a.mp3"))))
    jpegs = [S.image_bytes(S.slide(i, 5).convert("RGB"), "JPEG", quality=85) for i in range(200)]
    img_decode, _ = cpu(lambda: [image_frame(j, "j") for j in jpegs])
    img_hash, _ = cpu(lambda: [dct_hash(image_frame(j, "j")[None]) for j in jpegs])
    # The crop search with and without weighing keypoints by the items at their spot
    # (scan/media/spots.py), and the whole hash alone: alternated, three rounds, the
    # median of each (the machine is shared; one round is noisy).
    scanners = {
        "scan_per_s": matcher,
        "scan_crops_unweighted_per_s": MediaMatcher(registry, keys, MediaConfig(crop_min_weight=0)),
        "scan_whole_hash_only_per_s": MediaMatcher(
            registry, keys, MediaConfig(centre_check=False, crops=False)
        ),
    }
    rounds: dict[str, list[float]] = {name: [] for name in scanners}
    for _ in range(3):
        for name, m in scanners.items():
            rounds[name].append(
                cpu(lambda m=m: [m.find(fingerprint(decode(j, "j"))) for j in jpegs])[0]
            )
    scans = {name: round(len(jpegs) / statistics.median(t)) for name, t in rounds.items()}
    disk = {p.name.split("-")[0]: 0 for p in (base / "throughput" / "media").glob("*.npy")}
    for p in (base / "throughput" / "media").glob("*.npy"):
        disk[p.name.split("-")[0]] += p.stat().st_size
    return {
        "audio": {
            "hours_scanned": round(seconds / 3600, 3),
            "decode_only_hours_per_core_hour": round(seconds / decode_only),
            "scan_hours_per_core_hour": round(seconds / full),
            "scan_over_decode": round(full / decode_only, 2),
            "input": "mp3 48 kbps, 16 kHz mono",
        },
        "images": {
            "count": len(jpegs),
            "decode_per_s": round(len(jpegs) / img_decode),
            "decode_and_hash_per_s": round(len(jpegs) / img_hash),
            **scans,
            "input": "1280x720 JPEG q85 slides",
        },
        "registry_bytes": {
            "per_second_of_audio": round(disk.get("audio", 0) / 300, 1),
            "per_image": round(
                sum(disk.get(k, 0) for k in ("visual", "points", "centres")) / 100, 1
            ),
            "per_image_whole_hash": round(disk.get("visual", 0) / 100, 1),
        },
    }


def video(base: Path) -> dict[str, Any]:
    """Crops inside video. Registered: a screen share of 20 generated slides (deck 5,
    1280x720), each shown 3 s (a fast presenter), and the 20 registered real pages as
    a screen share too. A frame is found when the span names the share and its frame
    time (``item_start``) is within one sampled frame (1 s) of the slide's."""
    from PIL import Image

    keys = KeyRing(base / "keys")
    registry = MediaRegistry(base / "video", keys)
    deck = [S.slide(i, 5) for i in range(20)]
    each = 3.0
    share = S.encode_video(deck, each, size=(1280, 720))
    pages = sorted(SLIDES.glob("*.jpg"))
    real = [Image.open(p).convert("RGB") for p in pages[0::2]]
    real_others = [Image.open(p).convert("RGB") for p in pages[1::2]]
    real_share = S.encode_video(real, each, size=(960, 720))
    fps = {"share": fingerprint(decode(share, "share.mp4"))}
    fps["real-share"] = fingerprint(decode(real_share, "real.mp4"))
    registry.add("acme", [(k, None, fp) for k, fp in fps.items()])
    disk: dict[str, int] = {}
    for p in (base / "video" / "media").glob("*.npy"):
        disk[p.name.split("-")[0]] = disk.get(p.name.split("-")[0], 0) + p.stat().st_size
    seconds = sum(fp.duration for fp in fps.values())
    m = MediaMatcher(registry, keys)

    def at(spans: list[dict[str, Any]], item: str, t: float) -> bool:
        return any(s["item"] == item and abs(s["item_start"] - t) <= 1.0 for s in spans)

    def shot(item: str, slides: list[Any], f: float) -> float:
        found = [
            at(m.find(fingerprint(decode(S.image_bytes(crop(img, f)), "q.png"))), item, each * i)
            for i, img in enumerate(slides)
        ]
        return sum(found) / len(found)

    def clip(item: str, slides: list[Any], f: float, size: tuple[int, int]) -> float:
        """Each registered slide cropped, 3 s, after 2 s of an unregistered one: found
        when the span says 2 s in the clip and the slide's time in the share."""
        lead = S.slide(999, 5)
        found = []
        for i, img in enumerate(slides):
            data = S.encode_video([lead, crop(img, f)], [2.0, each], size=size)
            spans = [s for s in m.find(fingerprint(decode(data, "q.mp4"))) if s["item"] == item]
            found.append(at(spans, item, each * i) and abs(spans[0]["start"] - 2.0) <= 1.0)
        return sum(found) / len(found)

    recall = {
        f"{who}: {how} {round(f * 100)}%": fn(f)
        for f in (0.02, 0.05, 0.10)
        for who, item, slides, size in (
            ("generated", "share", deck, (800, 450)),
            ("real", "real-share", real, (640, 480)),
        )
        for how, fn in (
            ("screenshot cropped", lambda f, i=item, s=slides: shot(i, s, f)),
            ("clip cropped", lambda f, i=item, s=slides, z=size: clip(i, s, f, z)),
        )
    }
    others = [S.slide(i, 5) for i in range(2000, 2040)]
    fp_videos = {
        "40 unregistered slides of the template, one clip": S.encode_video(others, 2.0),
        "the same cropped 5%": S.encode_video([crop(o, 0.05) for o in others], 2.0),
        "the 20 unregistered real pages, one clip": S.encode_video(real_others, 2.0),
        "the same cropped 5%, one clip": S.encode_video(
            [crop(o, 0.05) for o in real_others], 2.0, size=(640, 480)
        ),
    }
    false_positives: dict[str, Any] = {
        k: [
            {f: s[f] for f in ("item", "evidence", "start", "item_start", "distance")}
            for s in m.find(fingerprint(decode(v, "o.mp4")))
        ]
        for k, v in fp_videos.items()
    }
    false_positives["the 40 unregistered slides cropped 5%, as screenshots"] = sum(
        bool(m.find(fingerprint(decode(S.image_bytes(crop(o, 0.05)), "o.png")))) for o in others
    )
    # Speed: a 2-minute screen share of unregistered slides of the template (12 s each),
    # with and without the crop search; alternated, three rounds, medians of CPU time.
    scanned = S.encode_video([S.slide(i, 5) for i in range(3000, 3010)], 12.0)
    minutes = fingerprint(decode(scanned, "s.mp4")).duration
    scanners = {
        "decode_only": lambda: decode(scanned, "s.mp4"),
        "scan_whole_hash_only": lambda: MediaMatcher(registry, keys, MediaConfig(crops=False)).find(
            fingerprint(decode(scanned, "s.mp4", "video"))
        ),
        "scan_with_crops": lambda: m.find(fingerprint(decode(scanned, "s.mp4"))),
    }
    rounds: dict[str, list[float]] = {k: [] for k in scanners}
    for _ in range(3):
        for k, fn in scanners.items():
            rounds[k].append(cpu(fn)[0])
    return {
        "registry_bytes_per_second_of_video": {
            "whole_hashes_only (before)": round(disk.get("visual", 0) / seconds, 1),
            "with_stills_keypoints_and_centres": round(
                sum(disk.get(k, 0) for k in ("visual", "points", "centres")) / seconds, 1
            ),
            "input": f"screen shares, a slide every {each:g} s ({seconds:.0f} s)",
        },
        "recall": recall,
        "false_positives_spans": false_positives,
        "speed_seconds_of_video_per_cpu_second": {
            k: round(minutes / statistics.median(t), 1) for k, t in rounds.items()
        },
        "speed_input": f"{minutes:.0f} s 1280x720 H.264 screen share, a slide every 12 s",
    }


def index(sizes: list[int], queries: int, linear_queries: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    out = []
    for n in sizes:
        hashes = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
        q = hashes[rng.integers(0, n, size=queries)] ^ (
            np.uint64(1) << rng.integers(0, 64, size=queries).astype(np.uint64)
        )
        build, idx = cpu(lambda h=hashes: MultiIndex(h))
        idx.search(q[:2], 5)
        mih, res = cpu(lambda i=idx, q=q: i.search(q, 5))
        lin, lres = cpu(lambda h=hashes, q=q: linear_search(h, q[:linear_queries], 5))
        same = set(zip(*(r.tolist() for r in lres), strict=True)) <= set(
            zip(*(r.tolist() for r in res), strict=True)
        )
        out.append(
            {
                "hashes": n,
                "radius": 5,
                "build_s": round(build, 2),
                "mih_us_per_query": round(mih / queries * 1e6, 1),
                "linear_us_per_query": round(lin / linear_queries * 1e6, 1),
                "speedup": round((lin / linear_queries) / (mih / queries), 1),
                "same_answers": bool(same),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=20.0, help="minutes of audio to scan")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parts = ("throughput", "quality", "real_slides", "video", "index")
    parser.add_argument("--part", action="append", choices=parts, help="only these parts")
    args = parser.parse_args()
    single_core()
    runs: dict[str, Callable[[Path], Any]] = {
        "throughput": lambda base: throughput(base, 5 if args.quick else args.minutes),
        "quality": lambda base: quality(base, 4 if args.quick else 12, 10 if args.quick else 40),
        "real_slides": real_slides,
        "video": video,
        "index": lambda base: index(
            [100_000] if args.quick else [1_000_000, 10_000_000], 1000, 20 if args.quick else 50
        ),
    }
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        result = {"machine": machine()}
        for part in args.part or parts:
            result[part] = runs[part](base)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
