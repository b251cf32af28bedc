"""The bounds trainguard puts on what it is given, and the checks that enforce them.

Every input a user or a client controls has a stated bound, so that no input
can take unbounded time or memory, or leave an unbounded trace in the audit log.
The numbers are documented in docs/limits.md; change them there too.

Nothing here depends on the CLI or the HTTP service: both adapters, and the
library's own readers, use the same bounds and the same one-line messages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import InputError

# --- files we parse -----------------------------------------------------------------------
MAX_YAML_BYTES = 256 * 1024
"""A policy, mapping or taxonomy file: real ones are a few KiB."""
MAX_YAML_DEPTH = 32
"""Nesting of mappings and sequences in a YAML file (a policy needs 5)."""
MAX_POLICY_RULES = 1_000
"""Rules in one policy version."""
MAX_RULE_PATTERNS = 256
"""Category or use patterns in one rule."""
MAX_JSON_FILE_BYTES = 16 * 1024 * 1024
"""A JSON document trainguard reads back whole: a proof, a manifest.json."""

# --- values -------------------------------------------------------------------------------
MAX_NAME_CHARS = 256
"""An id, tenant, subject, category, use, policy reference or model name."""
MAX_NAMES = 1_000
"""Categories or subjects of one record."""
MAX_TIME_CHARS = 64
"""An ISO 8601 time as text (the longest valid one is 32 characters)."""
MAX_INT64 = 2**63 - 1
"""Indexes and sizes: what the store's integers can hold."""
MAX_WORKERS = 1_024
"""Processes or Ray tasks of one scan."""

# --- HTTP ---------------------------------------------------------------------------------
MAX_BODY_BYTES = 1024 * 1024
"""A request body, except a scan's."""
MAX_SCAN_BODY_BYTES = 16 * 1024 * 1024
"""A scan request's body: the texts to scan."""
MAX_SCAN_DOCUMENTS = 10_000
"""Documents in one scan request; a corpus goes through `trainguard scan`."""


def shown(value: str, limit: int = 80) -> str:
    """``value`` quoted for a one-line message: escapes for anything unprintable
    (newlines, NUL, lone surrogates) and at most ``limit`` characters of quoted
    text, whatever the escapes cost (``\U0001f600`` is ten characters for one)."""
    n = min(len(value), limit)
    while True:
        cut = value[:n]
        text = ascii(cut) if any(not c.isprintable() for c in cut) else repr(cut)
        if len(text) <= limit + 2 or n == 0:  # + 2: the quotes
            break
        n = max(0, min(n - 1, n * limit // len(text)))
    if n < len(value):
        text += f"… ({len(value):,} characters)"
    return text


def is_file(path: str | Path) -> bool:
    """Whether ``path`` names an existing file; False for what cannot be a path at
    all (too long a name, a NUL) rather than an error."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def one_line(message: str) -> str:
    """``message`` as one printable line: line breaks of every kind (also \\x85,
    \\u2028…), other control characters and lone surrogates become escapes."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in message)


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (lone surrogates, NUL), or None."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8 (it holds a lone surrogate)"
    return None


def check_name(value: str, what: str) -> str:
    """An id, tenant, subject, category or use: non-empty valid text of at most
    MAX_NAME_CHARS characters without control characters."""
    problem = text_problem(value)
    if problem is None and len(value) > MAX_NAME_CHARS:
        problem = f"is longer than {MAX_NAME_CHARS} characters"
    if problem is None and not value:
        problem = "is empty"
    if problem is None and any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        problem = "contains a control character"
    if problem is not None:
        raise InputError(f"{what} {shown(value)}: {problem}")
    return value


def check_names(values: list[str] | tuple[str, ...], what: str) -> tuple[str, ...]:
    if len(values) > MAX_NAMES:
        raise InputError(f"{what}: {len(values):,} values; at most {MAX_NAMES:,}")
    return tuple(check_name(v, what) for v in values)


def read_bounded(path: str | Path, limit: int, what: str = "") -> bytes:
    """A file's bytes, refused (not truncated) when it is larger than ``limit``;
    a missing or unreadable file is one InputError naming it."""
    p = Path(path)
    label = f"{what} {p}" if what else str(p)
    try:
        with p.open("rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise InputError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{label}: is a folder, not a file") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise InputError(f"{label}: cannot read ({_reason(exc)})") from None
    if len(data) > limit:
        raise InputError(f"{label}: larger than {limit:,} bytes; refused")
    return data


def read_bounded_text(path: str | Path, limit: int, what: str = "") -> str:
    """As read_bounded, decoded as UTF-8 (a BOM is allowed)."""
    data = read_bounded(path, limit, what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        label = f"{what} {Path(path)}" if what else str(Path(path))
        raise InputError(f"{label}: not UTF-8 text (byte {exc.start})") from None


def parse_json(text: str | bytes, what: str) -> Any:
    """A JSON document; malformed or absurdly nested JSON (which makes Python's
    reader raise RecursionError) is one InputError naming ``what``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{what}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (ValueError, RecursionError) as exc:  # e.g. a number of 5,000 digits
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise InputError(f"{what}: not valid JSON ({reason.split(';')[0]})") from None


def read_json_file(path: str | Path, what: str = "", limit: int = MAX_JSON_FILE_BYTES) -> Any:
    """A JSON file read whole: bounded by ``limit``, errors naming the file."""
    label = f"{what} {Path(path)}" if what else str(Path(path))
    return parse_json(read_bounded_text(path, limit, what), label)


def write_output(path: Path, data: str | bytes, what: str = "") -> None:
    """Write a file the user named; a missing folder, a folder in the way or no
    permission is one InputError naming the path."""
    label = f"{what} {path}" if what else str(path)
    try:
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
    except FileNotFoundError:
        raise InputError(f"{label}: folder {path.parent} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{label}: is a folder; name a file") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{label}: cannot write ({_reason(exc)})") from None


def make_folder(path: Path, what: str = "") -> None:
    """Create an output folder (and its parents); a file in the way is one InputError."""
    label = f"{what} {path}" if what else str(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"{label}: is a file, not a folder") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{label}: cannot create the folder ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
