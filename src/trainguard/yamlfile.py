"""Strict YAML for trainguard's own files (policies, gate mappings).

YAML's implicit timestamps are off (``2023-08-11`` stays a string, so times
are parsed and their timezones checked by us), duplicate keys are refused,
and every node's line is kept so that validation errors can name the line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import InputError

M = TypeVar("M", bound=BaseModel)


class _StringLoader(yaml.SafeLoader):
    """SafeLoader without implicit timestamps."""


_StringLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _node_to_python(
    node: yaml.Node,
    loader: _StringLoader,
    path: tuple[Any, ...],
    lines: dict[tuple[Any, ...], int],
    error: type[InputError],
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in out:
                raise error(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            out[key] = _node_to_python(value_node, loader, (*path, key), lines, error)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _node_to_python(child, loader, (*path, i), lines, error)
            for i, child in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def parse_yaml(
    text: str, error: type[InputError] = InputError
) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """The document and the line of every node path; problems raise ``error``."""
    loader = _StringLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise error("the file is empty")
        lines: dict[tuple[Any, ...], int] = {}
        return _node_to_python(node, loader, (), lines, error), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise error(f"{where}not valid YAML ({exc.problem})") from exc
    finally:
        loader.dispose()


def line_for(loc: tuple[Any, ...], lines: Mapping[tuple[Any, ...], int]) -> int | None:
    """The line of the nearest enclosing node we saw in the file."""
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def validation_message(exc: ValidationError, lines: Mapping[tuple[Any, ...], int]) -> str:
    """``line N: field: problem`` for the first error pydantic found."""
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    line = line_for(loc, lines)
    field = ".".join(str(p) for p in loc) or "file"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "missing":
        msg = "required field is missing"
    where = f"line {line}: " if line is not None else ""
    return f"{where}{field}: {msg}"


def read_text(path: str | Path, error: type[InputError] = InputError) -> str:
    """A UTF-8 file's text; a missing or unreadable file is one ``error`` naming it."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{p}: cannot read ({exc})") from None


def load_model(text: str, source: str, model: type[M], error: type[InputError] = InputError) -> M:
    """Parse ``text`` and validate it as ``model``; errors name ``source`` and the line."""
    try:
        data, lines = parse_yaml(text, error)
    except InputError as exc:
        raise error(f"{source}: {exc}") from None
    if not isinstance(data, dict):
        raise error(f"{source}: line 1: expected a mapping of fields")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(f"{source}: {validation_message(exc, lines)}") from None
