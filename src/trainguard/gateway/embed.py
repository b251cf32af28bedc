"""The embedding model, shipped inside a wheel: WordLlama's small static embeddings.

Chosen by measurement on the project's meeting transcripts (``python
bench/measure_gateway_quality.py``): on QMSum's 209 specific questions over
the 32 meetings in tests/data, the turns it ranks first fall inside the
human-marked relevant spans more often than BM25's, at 16 MB of weights and
sub-millisecond embedding per turn. The weights and the tokenizer are in the
``wordllama`` wheel itself; they are loaded from the package folder with
downloads disabled, so nothing is fetched at run time.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import InputError

_lock = threading.Lock()
_model: Any = None
_tokenizer: Any = None


def model() -> Any:
    """The loaded model (once per process)."""
    global _model, _tokenizer
    with _lock:
        if _model is None:
            try:
                import wordllama
            except ImportError:
                raise InputError(
                    "the AI features need the gateway extra: pip install 'trainguard[gateway]'"
                ) from None
            # The wheel holds weights/ and tokenizers/ beside the code: pointing the
            # cache there, with downloads disabled, loads exactly those files.
            folder = Path(wordllama.__file__).parent
            loaded = wordllama.WordLlama.load(cache_dir=folder, disable_download=True)
            # A copy without padding: the pooling below sums each text's own tokens.
            tokenizer = copy.deepcopy(loaded.tokenizer)
            tokenizer.no_padding()
            _model, _tokenizer = loaded, tokenizer
        return _model


def embed(texts: list[str]) -> npt.NDArray[np.float32]:
    """Unit-length rows, one per text (a zero row for a text with no known token).

    The model's own mean pooling, without its padding to the longest text of
    each batch of 64: a meeting's turns run from one word to hundreds, and the
    padded arrays cost as much as the tokenizer (tests/gateway/test_embed.py
    holds the two to the same vectors)."""
    table = model().embedding
    if not texts:
        return np.zeros((0, table.shape[1]), np.float32)
    encoded = _tokenizer.encode_batch(texts, add_special_tokens=False)
    lengths = np.fromiter((len(e.ids) for e in encoded), np.int64, len(encoded))
    ids = np.fromiter((i for e in encoded for i in e.ids), np.int64, int(lengths.sum()))
    np.clip(ids, 0, table.shape[0] - 1, out=ids)
    sums = np.zeros((len(texts), table.shape[1]), np.float32)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    nonempty = lengths > 0
    if nonempty.any():
        sums[nonempty] = np.add.reduceat(table[ids], starts[nonempty], axis=0)
    # The mean's scale vanishes in the unit length: only the direction is used.
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    unit: npt.NDArray[np.float32] = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
    return unit
