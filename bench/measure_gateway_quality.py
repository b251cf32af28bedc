"""Quality of the gateway's AI features on the project's real meeting transcripts.

On the 32 QMSum meetings kept in tests/data, against QMSum's human annotations
(tests/data/qmsum-references.jsonl.gz):

- **Summaries**: ROUGE-1/2/L F1 (Google's rouge-score, stemmed) of the
  gateway's extractive summary against the human summary of each meeting,
  beside two baselines of the same length measured in the same run: the
  first turns of the meeting (lead) and turns drawn at random (mean of 5 draws).
  The summary's opening-sentence bonus (EARLY_BONUS, EARLY_DECAY in
  gateway/features.py) was chosen on the even-numbered meetings (0, 2, ...):
  ``rouge_f1_held_out`` scores the odd-numbered ones alone, which it never saw;
  ``summary_sentences_from_first_tenth`` says how much the bonus leans on the opening.
- **Question retrieval**: for each of the 209 specific questions, the share of
  the 5 turns ranked first that fall inside the spans a person marked as
  relevant (precision@5), and whether any does (hit@5): the embedding model
  the gateway ships (WordLlama) against BM25 (bm25s) and random turns.

Turns shorter than the features' minimum are left out for every method alike.

Run: python bench/measure_gateway_quality.py
"""

from __future__ import annotations

import gzip
import json
import random
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from _common import emit
from trainguard.gateway import meeting_sources
from trainguard.gateway.features import (
    SUMMARY_WORDS,
    Unit,
    rank_for_question,
    select_summary,
    units_of,
)

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
K = 5
RANDOM_DRAWS = 5


def load() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    with gzip.open(DATA / "qmsum-sample.jsonl.gz", "rt") as f:
        meetings = {m["meeting_id"]: m for m in map(json.loads, f)}
    with gzip.open(DATA / "qmsum-references.jsonl.gz", "rt") as f:
        return [(meetings[r["meeting_id"]], r) for r in map(json.loads, f)]


def eligible(units: list[Unit]) -> list[int]:
    from trainguard.gateway.features import MIN_WORDS

    return [k for k, u in enumerate(units) if len(u.text.split()) >= MIN_WORDS]


def up_to(units: list[Unit], order: list[int], words: int) -> str:
    out, n = [], 0
    for k in order:
        if n >= words:
            break
        out.append(units[k].text)
        n += len(units[k].text.split())
    return " ".join(out)


def main() -> None:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    rng = random.Random(17)
    pairs = load()
    rouge: dict[str, list[list[float]]] = {"gateway": [], "lead": [], "random": []}
    retrieval: dict[str, list[tuple[float, bool]]] = {"wordllama": [], "bm25": [], "random": []}
    opening: list[bool] = []  # per chosen sentence: is it in the meeting's first tenth?
    at = datetime(2023, 9, 1, tzinfo=UTC)
    for meeting, ref in pairs:
        sources = meeting_sources(meeting, "acme", at)
        units = units_of(sources, sentences=True)
        ok = eligible(units)
        chosen = sorted(select_summary(units, SUMMARY_WORDS))
        opening.extend(k < len(units) / 10 for k in chosen)
        texts = {
            "gateway": up_to(units, chosen, 10**9),
            "lead": up_to(units, ok, SUMMARY_WORDS),
        }
        for name, text in texts.items():
            s = scorer.score(ref["summary"], text)
            rouge[name].append([s[k].fmeasure for k in ("rouge1", "rouge2", "rougeL")])
        draws = []
        for _ in range(RANDOM_DRAWS):
            order = rng.sample(ok, len(ok))
            s = scorer.score(ref["summary"], up_to(units, sorted(order[:40]), SUMMARY_WORDS))
            draws.append([s[k].fmeasure for k in ("rouge1", "rouge2", "rougeL")])
        rouge["random"].append(list(np.mean(draws, axis=0)))
        # Questions are answered with whole turns (the spans mark turns).
        units = units_of(sources)
        ok = eligible(units)
        bm25 = _bm25(units, ok)
        for q in ref["queries"]:
            relevant = {i for a, b in q["spans"] for i in range(a, b + 1)}
            ranked = {
                "wordllama": [units[k].segment for k in rank_for_question(units, q["query"])[:K]],
                "bm25": [units[k].segment for k in bm25(q["query"])],
                "random": [units[k].segment for k in rng.sample(ok, K)],
            }
            for name, top in ranked.items():
                hits = [i in relevant for i in top]
                retrieval[name].append((sum(hits) / K, any(hits)))
    emit(
        "gateway_quality",
        {
            "meetings": len(pairs),
            "questions": len(retrieval["bm25"]),
            "summary_words": SUMMARY_WORDS,
            "rouge_f1": _mean_rouge(rouge, slice(None)),
            "rouge_f1_held_out": _mean_rouge(rouge, slice(1, None, 2)),
            "summary_sentences_from_first_tenth": round(statistics.mean(opening), 3),
            "retrieval_at_5": {
                name: {
                    "precision": round(statistics.mean(p for p, _ in v), 3),
                    "hit": round(statistics.mean(h for _, h in v), 3),
                }
                for name, v in retrieval.items()
            },
        },
    )


def _mean_rouge(rouge: dict[str, list[list[float]]], meetings: slice) -> dict[str, Any]:
    return {
        name: dict(
            zip(
                ("rouge1", "rouge2", "rougeL"),
                np.round(np.mean(v[meetings], axis=0), 4).tolist(),
                strict=True,
            )
        )
        for name, v in rouge.items()
    }


def _bm25(units: list[Unit], ok: list[int]) -> Any:
    import bm25s

    texts = [units[k].text for k in ok]
    index = bm25s.BM25()
    index.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)

    def top(query: str) -> list[int]:
        docs, _ = index.retrieve(
            bm25s.tokenize([query], stopwords="en", show_progress=False), k=K, show_progress=False
        )
        return [ok[int(d)] for d in docs[0]]

    return top


if __name__ == "__main__":
    main()
