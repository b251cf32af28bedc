"""Re-rendered transcripts: measured on the 162 real meeting transcripts.

A fragment copied from a transcript viewer rarely looks like the registered
text. This script registers every other meeting (two tenants), takes 400
fragments of 25-90 words that run across several turns of a registered
meeting, and re-renders each the way a viewer or a person pasting would:

- contractions and punctuation joined (``do n't`` -> ``don't``, ``it 's`` ->
  ``it's``, ``fine .`` -> ``fine.``, ``Mm - hmm`` -> ``Mm-hmm``), undoing the
  corpus's tokenized punctuation;
- every turn behind a bracketed timestamp (``[00:12:31]``) and its speaker's
  name in upper case, then a colon, laid out in one of three ways (a third
  of the fragments each): the label on a line of its own, the turn's text
  after it on its line, or every turn run into one paragraph;
- each line wrapped at 44 columns (labels then run over two lines).

Each is planted in unregistered text and scanned at the default settings;
the same fragments planted as they are give the baseline. False positives:
every unregistered meeting is scanned whole, as registered and re-rendered
the same way; each span found there must point at a meeting of the same
series (shared boilerplate), and their number is reported. Prints JSON.

Run: python bench/measure_rerendered.py [--fragments 400]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from _common import emit
from trainguard.demo.sample_data import meetings_path
from trainguard.scan import KeyRing, Matcher, Registry, transcript_text

MEETINGS = meetings_path() or Path("shared/data/meetings/qmsum-train.jsonl")
WIDTH = 44

_CLITIC = re.compile(r"\s+(n't|'s|'re|'ve|'ll|'d|'m)(?=\W|$)", re.IGNORECASE)
_PUNCTUATION = re.compile(r"\s+([,.?!;:])")
_HYPHEN = re.compile(r"(\w) - (\w)")


def series(meeting_id: str) -> str:
    return meeting_id.rstrip("0123456789abcd_")


def joined(content: str) -> str:
    """The turn's text with its clitics and punctuation joined to the words before."""
    return _HYPHEN.sub(r"\1-\2", _PUNCTUATION.sub(r"\1", _CLITIC.sub(r"\1", content)))


LAYOUTS = ("label_line", "same_line", "one_paragraph")


def render(turns: list[dict[str, str]], rng: random.Random, layout: str) -> str:
    """Turns as a viewer shows them: timestamp, upper-case label, joined text, 44 columns."""
    seconds = rng.randrange(0, 3 * 3600)
    out = []
    for turn in turns:
        seconds += rng.randrange(2, 40)
        stamp = f"[{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}]"
        label = f"{stamp} {turn['speaker'].upper()}:"
        text = joined(turn["content"])
        if layout == "label_line":
            out += [textwrap.fill(label, WIDTH), textwrap.fill(text, WIDTH)]
        else:
            out.append(f"{label} {text}")
    if layout == "one_paragraph":
        return textwrap.fill(" ".join(out), WIDTH)
    if layout == "same_line":
        return "\n".join(textwrap.fill(line, WIDTH) for line in out)
    return "\n".join(line for line in out if line)


def fragment_turns(
    turns: list[dict[str, str]], rng: random.Random, words: int
) -> list[dict[str, str]] | None:
    """``words`` consecutive words of the meeting from a random place, with their
    speakers, if they run across at least two turns."""
    flat = [(k, w) for k, t in enumerate(turns) for w in t["content"].split()]
    if len(flat) <= words:
        return None
    at = rng.randrange(0, len(flat) - words)
    piece = flat[at : at + words]
    if piece[0][0] == piece[-1][0]:
        return None
    out: list[dict[str, str]] = []
    for k, w in piece:
        if out and out[-1]["k"] == str(k):
            out[-1]["content"] += " " + w
        else:
            out.append({"k": str(k), "speaker": turns[k]["speaker"], "content": w})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fragments", type=int, default=400)
    args = parser.parse_args()
    with MEETINGS.open(encoding="utf-8") as f:
        rows = {r["meeting_id"]: r["turns"] for r in map(json.loads, f)}
    meetings = {m: transcript_text(t) for m, t in rows.items()}
    ids = sorted(meetings)
    registered, unregistered = ids[::2], ids[1::2]
    base = Path(tempfile.mkdtemp())
    registry = Registry(base / "registry", KeyRing(base / "keys"))
    registry.add("acme", [(m, meetings[m], None) for m in registered[::2]])
    registry.add("globex", [(m, meetings[m], None) for m in registered[1::2]])
    matcher = Matcher(registry)
    rng = random.Random(11)
    plain_found = rerendered_found = done = 0
    by_layout = {layout: [0, 0] for layout in LAYOUTS}
    missed: list[dict[str, Any]] = []
    while done < args.fragments:
        item = rng.choice(registered)
        words = rng.randrange(25, 91)
        turns = fragment_turns(rows[item], rng, words)
        if turns is None:
            continue
        done += 1
        host = meetings[rng.choice(unregistered)]
        at = rng.randrange(0, max(1, len(host) - 3000))
        before, after = host[at : at + 1500], host[at + 1500 : at + 3000]
        plain = "\n".join(t["content"] for t in turns)
        layout = LAYOUTS[done % len(LAYOUTS)]
        shown = render(turns, rng, layout)
        by_layout[layout][1] += 1

        def found(text: str, item: str = item, before: str = before, after: str = after) -> bool:
            spans, _ = matcher.scan(before + "\n" + text + "\n" + after)
            return any(item in s.items for s in spans)

        plain_found += found(plain)
        if found(shown):
            rerendered_found += 1
            by_layout[layout][0] += 1
        elif len(missed) < 5:
            missed.append({"item": item, "words": words, "layout": layout, "text": shown})
    false_positives: dict[str, Any] = {}
    for name in ("as_registered", *LAYOUTS):
        spans = {
            m: matcher.scan(
                meetings[m] if name == "as_registered" else render(rows[m], random.Random(m), name)
            )[0]
            for m in unregistered
        }
        false_positives[name] = {
            "unregistered_meetings": len(unregistered),
            "unregistered_with_a_span": sum(1 for s in spans.values() if s),
            "spans": sum(len(s) for s in spans.values()),
            "spans_outside_the_series": sum(
                1
                for m, s in spans.items()
                for span in s
                if any(series(i) != series(m) for i in span.items)
            ),
        }
    emit(
        "rerendered",
        {
            "registered": len(registered),
            "fragments": done,
            "found_as_registered": plain_found,
            "found_rerendered": rerendered_found,
            "recall_rerendered": round(rerendered_found / done, 4),
            "found_by_layout": {k: f"{v[0]} of {v[1]}" for k, v in by_layout.items()},
            "false_positives": false_positives,
            "first_missed": missed,
        },
    )


if __name__ == "__main__":
    main()
