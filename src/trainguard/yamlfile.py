"""Strict, bounded YAML for trainguard's own files (policies, gate mappings, taxonomies).

YAML's implicit timestamps are off (``2023-08-11`` stays a string, so times
are parsed and their timezones checked by us), duplicate keys are refused,
and every node's line is kept so that validation errors can name the line.

A file is refused before it is built into objects when it is larger than
MAX_YAML_BYTES, nests deeper than MAX_YAML_DEPTH, or uses anchors and aliases
(``&a`` / ``*a``): an alias is how a few hundred bytes expand into gigabytes,
and no trainguard file needs one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import InputError
from .limits import MAX_YAML_BYTES, MAX_YAML_DEPTH, read_bounded_text

M = TypeVar("M", bound=BaseModel)

# libyaml when it is there (PyYAML's pure-Python parser is ~20x slower); same results.
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StringLoader(_Base):  # type: ignore[misc]
    """SafeLoader without implicit timestamps."""


_StringLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _check_events(text: str, error: type[InputError]) -> None:
    """Refuse anchors, aliases and deep nesting from the event stream alone, before
    any node exists: the refusal costs as little as reading the file once."""
    depth = 0
    for event in yaml.parse(text, Loader=_StringLoader):
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise error(f"line {line}: anchors and aliases (& and *) are not allowed")
        if isinstance(event, _OPEN):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise error(f"line {line}: nested deeper than {MAX_YAML_DEPTH} levels")
        elif isinstance(event, _CLOSE):
            depth -= 1


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
            if not isinstance(key_node, yaml.ScalarNode):
                raise error(f"line {key_node.start_mark.line + 1}: a key must be a plain value")
            key = _scalar(key_node, loader, error)
            if key in out:
                raise error(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            out[key] = _node_to_python(value_node, loader, (*path, key), lines, error)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _node_to_python(child, loader, (*path, i), lines, error)
            for i, child in enumerate(node.value)
        ]
    return _scalar(node, loader, error)


def _scalar(node: yaml.Node, loader: _StringLoader, error: type[InputError]) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise error(f"line {node.start_mark.line + 1}: {str(exc).split(';')[0]}") from None


def parse_yaml(
    text: str, error: type[InputError] = InputError
) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """The document and the line of every node path; problems raise ``error``."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise error(f"not valid UTF-8 (a lone surrogate at character {exc.start})") from None
    if size > MAX_YAML_BYTES:
        raise error(f"{size:,} bytes; a file may have at most {MAX_YAML_BYTES:,}")
    try:
        _check_events(text, error)
    except yaml.MarkedYAMLError as exc:
        raise error(_yaml_problem(exc)) from None
    except yaml.YAMLError as exc:  # e.g. a character YAML does not allow
        raise error(f"not valid YAML ({str(exc).splitlines()[0]})") from None
    loader = _StringLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise error("the file is empty")
        lines: dict[tuple[Any, ...], int] = {}
        return _node_to_python(node, loader, (), lines, error), lines
    except yaml.MarkedYAMLError as exc:
        raise error(_yaml_problem(exc)) from None
    except yaml.YAMLError as exc:
        raise error(f"not valid YAML ({str(exc).splitlines()[0]})") from None
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark
    where = f"line {mark.line + 1}: " if mark is not None else ""
    return f"{where}not valid YAML ({exc.problem})"


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
    """A UTF-8 YAML file's text, at most MAX_YAML_BYTES; a missing, unreadable or
    larger file is one ``error`` naming it."""
    try:
        return read_bounded_text(path, MAX_YAML_BYTES)
    except InputError as exc:
        raise error(str(exc)) from None


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
