"""A store with the demo's world in it: the timeline, consent, a gated training set and
the model trained on it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from trainguard.demo.run import DemoResult, GateStory, build_demo, gate_story


@dataclass
class World:
    demo: DemoResult
    gate: GateStory


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    (tmp_path / "world").mkdir()
    demo = build_demo(tmp_path / "world")
    yield World(demo, gate_story(demo))
    demo.store.engine.dispose()
