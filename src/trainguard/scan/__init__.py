"""Prove it: a registry of keyed fingerprints of customer content, and a corpus scanner.

- :class:`Registry` / :class:`KeyRing` — register content (never stored), per-tenant keys;
- :class:`Matcher` — find verbatim spans and near-duplicates in one text;
- :func:`scan_corpus` — scan files, folders, globs or URLs on the local or Ray engine.
"""

from .corpus import Fields
from .engine import ScanOptions, ScanSummary, scan_corpus, scan_shard
from .fingerprint import DEFAULT_N, new_key, ngram_fingerprints
from .keys import KeyRing
from .matcher import Matcher, ScanConfig, Span
from .normalize import Tokens, tokenize, transcript_text
from .registry import Registry

__all__ = [
    "DEFAULT_N",
    "Fields",
    "KeyRing",
    "Matcher",
    "Registry",
    "ScanConfig",
    "ScanOptions",
    "ScanSummary",
    "Span",
    "Tokens",
    "new_key",
    "ngram_fingerprints",
    "scan_corpus",
    "scan_shard",
    "tokenize",
    "transcript_text",
]
