"""The embedding model: shipped in its wheel, loaded without a network, pooled as the
model itself pools."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

from trainguard.gateway.embed import embed, model

from ..conftest import meeting_rows

pytest.importorskip("wordllama", reason="the AI features need the gateway extra")


def test_our_pooling_gives_the_models_own_vectors() -> None:
    texts = [t["content"] for t in meeting_rows()[11]["turns"][:200]] + [
        "",
        "{vocalsound}",
        "x" * 3000,
    ]
    ours = embed(texts)
    theirs = np.asarray(model().embed(texts, norm=False), np.float32)
    norms = np.linalg.norm(theirs, axis=1, keepdims=True)
    expected = np.divide(theirs, norms, out=np.zeros_like(theirs), where=norms > 0)
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    assert not ours[200].any()  # no token, no direction


def test_the_model_loads_with_no_network_and_no_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import requests

    from trainguard.gateway import embed as embed_module

    def offline(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model tried to reach the network")

    monkeypatch.setattr(requests, "get", offline)
    monkeypatch.setattr(requests.Session, "request", offline)
    monkeypatch.setattr(socket, "create_connection", offline)
    monkeypatch.setenv("HOME", str(tmp_path))  # no cache of earlier downloads either
    monkeypatch.setattr(embed_module, "_model", None)
    loaded = embed_module.model()
    assert loaded.embedding.shape == (32000, 256)  # WordLlama's default: 256 dimensions
    assert embed(["the remote control budget"]).shape == (1, 256)
