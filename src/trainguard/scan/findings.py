"""A finding: one document holding registered content, as JSON.

The same shape wherever a scan runs (a corpus scan's findings file, a scan
the service ran on posted texts): the document, where it came from when it
came from a file, its spans, and how much of it they cover.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .matcher import Span


def finding_json(
    doc_id: str | None,
    spans: Sequence[Span],
    doc_tokens: int,
    *,
    where: dict[str, Any] | None = None,
    shown: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``spans`` found in a document of ``doc_tokens`` tokens; ``where`` (source,
    line) follows the id; ``shown`` replaces the spans' own JSON (a tenant's view)."""
    covered: set[int] = set()
    for s in spans:
        covered.update(range(s.first_token, s.last_token + 1))
    return {
        "doc_id": doc_id,
        **(where or {}),
        "spans": list(shown) if shown is not None else [s.to_json() for s in spans],
        "matched_tokens": len(covered),
        "doc_tokens": doc_tokens,
        "coverage": round(len(covered) / doc_tokens, 4) if doc_tokens else 0.0,
    }
