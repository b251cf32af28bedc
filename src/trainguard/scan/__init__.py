"""Fingerprints of customer content (normalization and keyed n-gram hashes).

The registry and corpus scanner built on these are not in this release yet.
"""

from .fingerprint import DEFAULT_N, new_key, ngram_fingerprints
from .normalize import Tokens, tokenize, transcript_text

__all__ = ["DEFAULT_N", "Tokens", "new_key", "ngram_fingerprints", "tokenize", "transcript_text"]
