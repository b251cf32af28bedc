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

import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import InputError

_lock = threading.Lock()
_model: Any = None


def model() -> Any:
    """The loaded model (once per process)."""
    global _model
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
            _model = wordllama.WordLlama.load(cache_dir=folder, disable_download=True)
        return _model


def embed(texts: list[str]) -> npt.NDArray[np.float32]:
    """Unit-length rows, one per text (a zero row for a text with no known token)."""
    if not texts:
        return np.zeros((0, 256), np.float32)
    vectors = np.asarray(model().embed(texts, norm=False), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: npt.NDArray[np.float32] = np.divide(
        vectors, norms, out=np.zeros_like(vectors), where=norms > 0
    )
    return unit
