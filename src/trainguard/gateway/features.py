"""The AI features: an extractive meeting summary and extractive question answering.

Both only *select* text from the sources they are given and cite where each
piece came from; neither writes new text, so there is nothing an instruction
hidden in a message could steer. Every source handed to a feature is cited,
whether or not a piece of it was chosen.

- **Summary**: the sentences closest to the meeting's centroid in embedding
  space, with a bonus for opening sentences (where the agenda is said), chosen
  by maximal marginal relevance (so they are not all about one thing) up to a
  word budget, in meeting order.
- **Question**: the turns closest to the question, best first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .embed import embed
from .sources import Source
from .untrusted import looks_like_instruction, safe_html, strip_urls

SUMMARY_WORDS = 100  # QMSum's human summaries of these meetings: median 99 words
ANSWER_TURNS = 5
# Shorter pieces ("Yeah.", "Okay, so.") carry no content of their own. Measured
# on the transcripts (bench/measure_gateway_quality.py), 8 words beat 5.
MIN_WORDS = 8
MMR_LAMBDA = 0.7
# Meetings open with their agenda ("today we'll decide the remote's buttons"),
# which human summaries restate: a sentence's relevance gets a bonus that
# decays with its position, EARLY_BONUS * exp(-EARLY_DECAY * position), the
# position running from 0 (first candidate) to 1 (last). Chosen on the
# even-numbered half of the measured meetings; bench/measure_gateway_quality.py
# reports the other half apart.
EARLY_BONUS = 0.4
EARLY_DECAY = 5.0

_MARK = re.compile(r"\{[a-z_]+\}")  # transcripts' disfluency marks: {disfmarker}, {vocalsound}
_SPACE_BEFORE = re.compile(r" (?=[,.?!;:]|'[a-z]|n't\b)")
_FILLER = re.compile(r"\b(?:uh|um|uh-huh|mm-hmm|hmm|you know|I mean|sort of|kind of)\b,?\s*", re.I)
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def clean(text: str) -> str:
    """A turn as it reads: no disfluency marks or fillers, no tokenizer spaces
    before punctuation. Only for choosing and showing: nothing is kept."""
    text = _FILLER.sub("", _MARK.sub(" ", text))
    return _SPACE_BEFORE.sub("", " ".join(text.split()))


@dataclass(frozen=True)
class Unit:
    source: int  # index into the sources
    segment: int
    text: str
    speaker: str
    instruction_like: bool


@dataclass
class Output:
    feature: str
    points: list[dict[str, Any]]
    citations: list[dict[str, Any]]
    text: str = ""
    html: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "text": self.text,
            "html": self.html,
            "points": self.points,
            "citations": self.citations,
            **self.extra,
        }


def units_of(sources: Sequence[Source], sentences: bool = False) -> list[Unit]:
    """The pieces a feature chooses from: each segment (a turn, a message), or
    each sentence of each segment. A piece is flagged when its whole segment
    reads like an instruction to an assistant."""
    out: list[Unit] = []
    for i, s in enumerate(sources):
        for j, seg in enumerate(s.segments):
            flagged = looks_like_instruction(seg.text)
            text = clean(seg.text)
            pieces = _SENTENCE_END.split(text) if sentences else [text]
            out.extend(Unit(i, j, p, seg.speaker, flagged) for p in pieces if p)
    return out


def summarize(sources: Sequence[Source], words: int = SUMMARY_WORDS) -> Output:
    units = units_of(sources, sentences=True)
    chosen = select_summary(units, words)
    return _output(
        "summary", sources, units, sorted(chosen, key=lambda k: (units[k].source, units[k].segment))
    )


def select_summary(units: Sequence[Unit], words: int) -> list[int]:
    """Indexes of the units of an extractive summary of about ``words`` words."""
    candidates = [k for k, u in enumerate(units) if _eligible(u)]
    if not candidates:
        return []
    vectors = embed([units[k].text for k in candidates])
    centroid = vectors.mean(axis=0)
    norm = float(np.linalg.norm(centroid))
    relevance = vectors @ (centroid / norm) if norm > 0 else np.zeros(len(candidates), np.float32)
    position = np.arange(len(candidates), dtype=np.float32) / len(candidates)
    relevance = (relevance + EARLY_BONUS * np.exp(-EARLY_DECAY * position)).astype(np.float32)
    picked = _mmr(vectors, relevance, lambda chosen: _words(units, candidates, chosen) >= words)
    return [candidates[p] for p in picked]


def answer(sources: Sequence[Source], question: str, turns: int = ANSWER_TURNS) -> Output:
    units = units_of(sources)
    ranked = rank_for_question(units, question)[:turns]
    out = _output("question", sources, units, ranked)
    return out


def rank_for_question(units: Sequence[Unit], question: str) -> list[int]:
    """Indexes of the eligible units, most similar to ``question`` first."""
    candidates = [k for k, u in enumerate(units) if _eligible(u)]
    if not candidates:
        return []
    vectors = embed([units[k].text for k in candidates])
    q = embed([clean(question)])[0]
    scores = vectors @ q
    order = np.argsort(-scores, kind="stable")
    return [candidates[int(p)] for p in order]


def _eligible(u: Unit) -> bool:
    return not u.instruction_like and len(u.text.split()) >= MIN_WORDS


def _words(units: Sequence[Unit], candidates: Sequence[int], chosen: Sequence[int]) -> int:
    return sum(len(units[candidates[c]].text.split()) for c in chosen)


def _mmr(
    vectors: npt.NDArray[np.float32], relevance: npt.NDArray[np.float32], enough: Any
) -> list[int]:
    chosen: list[int] = []
    best_sim = np.full(len(relevance), -np.inf, np.float32)
    available = np.ones(len(relevance), bool)
    while available.any() and not enough(chosen):
        redundancy = np.where(np.isfinite(best_sim), best_sim, 0.0)
        score = MMR_LAMBDA * relevance - (1 - MMR_LAMBDA) * redundancy
        score[~available] = -np.inf
        k = int(np.argmax(score))
        chosen.append(k)
        available[k] = False
        best_sim = np.maximum(best_sim, vectors @ vectors[k])
    return chosen


def _output(
    feature: str, sources: Sequence[Source], units: Sequence[Unit], chosen: Sequence[int]
) -> Output:
    # Every source given is cited, numbered in the order given; a point names its number.
    points: list[dict[str, Any]] = []
    for k in chosen:
        u = units[k]
        points.append(
            {
                "text": strip_urls(u.text),
                "speaker": u.speaker,
                "source": sources[u.source].id,
                "segment": u.segment,
                "citation": u.source + 1,
            }
        )
    flagged = {units[k].source for k in range(len(units)) if units[k].instruction_like}
    citations = [
        {
            "n": i + 1,
            "source": s.id,
            "container": s.container,
            "segments_quoted": sorted(units[k].segment for k in chosen if units[k].source == i),
            "holds_instruction_like_text": i in flagged,
        }
        for i, s in enumerate(sources)
    ]
    lines = [
        f"- {p['speaker'] + ': ' if p['speaker'] else ''}{p['text']} [{p['citation']}]"
        for p in points
    ]
    refs = [f"[{c['n']}] {c['source']}" for c in citations]
    text = "\n".join(lines + (["", *refs] if refs else []))
    return Output(feature, points, citations, text, safe_html(_markdown_escape(text)))


def _markdown_escape(text: str) -> str:
    # The sources' text is data: Markdown syntax in it must not become markup.
    return re.sub(r"([\\`*_{}\[\]()#+!<>|~])", r"\\\1", text).replace("\n- ", "\n\n- ")
