"""Exact identifiers: tenants, subjects, policy families, model names, record ids.

A tenant named ``Acme-Ent``, `` acme-ent``, ``acme‐ent`` (U+2010) or
``ａｃｍｅ-ent`` must never be taken for ``acme-ent``, nor quietly given some
other terms. So an identity is compared byte for byte, and each kind has a
stated character set that leaves no room for look-alikes; a name outside it is
refused where it enters (one line naming the field and the problem), never
repaired:

============  =====================================================  =========
kind          characters                                             length
============  =====================================================  =========
tenant        ``a-z 0-9 . _ -``, starting and ending with a letter   1–64
              or digit, never two of ``. _ -`` in a row
family        as tenant (a policy family's name)                     1–64
subject       ``A-Z a-z 0-9 . _ @ + : -``, starting with a letter    1–256
              or digit (user ids, e-mail addresses)
model name    ``A-Z a-z 0-9 . _ @ + : / -``, starting with a letter  1–200
              or digit
record id     any printable text: no control, format (zero-width,    1–256
              bidi) or surrogate characters, no space at either end
============  =====================================================  =========

A tenant may not end with ``.``, ``_`` or ``-`` nor double them: ``acme.``,
``acme-`` and ``acme..eu`` read as ``acme`` and ``acme.eu``, and a well-formed
name that no tenant was assigned falls under the default terms.

Subjects may hold capitals because user ids elsewhere do: ``Bob`` and ``bob``
are then two people, and nothing ever folds one into the other. All of these
sets are ASCII except record ids, so NFC and NFD spellings of an accented name
cannot both be valid; record ids must be NFC.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ..errors import InputError


class IdentityError(InputError):
    """A name is outside the character set of its kind (HTTP 422, exit 2)."""


@dataclass(frozen=True)
class IdentityKind:
    """One kind of identifier: what it may hold, how long it may be."""

    name: str
    pattern: re.Pattern[str] | None
    max_length: int
    allowed: str  # the character set, in words, for messages

    def check(self, value: object, field: str) -> str:
        """``value`` itself when it is a valid identifier of this kind; else IdentityError."""
        problem = self.problem(value)
        if problem is not None:
            shown = show(value) if isinstance(value, str) else type(value).__name__
            raise IdentityError(f"{field} {shown}: {problem}")
        assert isinstance(value, str)
        return value

    def is_valid(self, value: object) -> bool:
        return self.problem(value) is None

    def problem(self, value: object) -> str | None:
        """What is wrong with ``value`` as this kind of identifier, or None."""
        if not isinstance(value, str):
            return f"a {self.name} must be text"
        if not value:
            return f"a {self.name} must not be empty"
        if len(value) > self.max_length:
            return f"a {self.name} is at most {self.max_length} characters, this has {len(value)}"
        if value != value.strip():
            return f"a {self.name} must not begin or end with a space"
        for i, ch in enumerate(value):
            if unicodedata.category(ch) in _INVISIBLE:
                return f"character {i + 1} is {_describe(ch)}, which no {self.name} may hold"
        if self.pattern is None:
            if unicodedata.normalize("NFC", value) != value:
                return f"a {self.name} must be in Unicode NFC form"
            return None
        if self.pattern.fullmatch(value):
            return None
        first = next((i for i, ch in enumerate(value) if not _ALLOWED_CHAR[self.name](ch)), None)
        if first is None:
            if not (value[0].isascii() and value[0].isalnum()):
                return f"a {self.name} must start with a letter or digit"
            if value[-1] in _SEPARATORS:
                return f"a {self.name} must end with a letter or digit"
            twice = next(
                (i for i in range(1, len(value)) if value[i - 1 : i + 1] in _DOUBLED), None
            )
            if twice is not None:
                return (
                    f"characters {twice}-{twice + 1} are two of '.', '_' and '-' in a row, "
                    f"which no {self.name} may hold"
                )
            # Every rule above holds and the pattern still refuses: say what it wants.
            return f"a {self.name} holds only {self.allowed}, starting with a letter or digit"
        return (
            f"character {first + 1} is {_describe(value[first])}; a {self.name} holds only "
            f"{self.allowed}"
        )


# Control, format (zero-width, bidi), surrogate, private-use and unassigned code points.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

_TENANT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
_SUBJECT_CHARS = _TENANT_CHARS | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ@+:")
_MODEL_CHARS = _SUBJECT_CHARS | frozenset("/")

_ALLOWED_CHAR = {
    "tenant": _TENANT_CHARS.__contains__,
    "policy family": _TENANT_CHARS.__contains__,
    "subject": _SUBJECT_CHARS.__contains__,
    "model name": _MODEL_CHARS.__contains__,
}

_SEPARATORS = "._-"
_DOUBLED = frozenset(a + b for a in _SEPARATORS for b in _SEPARATORS)
# Letters and digits, single separators between them (the length is checked apart).
_TENANT_RE = re.compile(r"(?=.{1,64}\Z)[a-z0-9]+(?:[._-][a-z0-9]+)*")

TENANT = IdentityKind(
    "tenant",
    _TENANT_RE,
    64,
    "lower-case ASCII letters, digits, '.', '_' and '-', starting and ending with a "
    "letter or digit",
)
FAMILY = IdentityKind(
    "policy family",
    re.compile(r"[a-z0-9][a-z0-9._-]{0,63}"),
    64,
    "lower-case ASCII letters, digits, '.', '_' and '-', starting with a letter or digit",
)
SUBJECT = IdentityKind(
    "subject",
    re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+:-]{0,255}"),
    256,
    "ASCII letters, digits, '.', '_', '@', '+', ':' and '-', starting with a letter or digit",
)
MODEL_NAME = IdentityKind(
    "model name",
    re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+:/-]{0,199}"),
    200,
    "ASCII letters, digits, '.', '_', '@', '+', ':', '/' and '-', starting with a letter or digit",
)
RECORD_ID = IdentityKind("record id", None, 256, "printable text")


def check_tenant(value: object, field: str = "tenant") -> str:
    return TENANT.check(value, field)


def check_subject(value: object, field: str = "subject") -> str:
    return SUBJECT.check(value, field)


def check_family(value: object, field: str = "family") -> str:
    return FAMILY.check(value, field)


def check_model_name(value: object, field: str = "model name") -> str:
    return MODEL_NAME.check(value, field)


def check_record_id(value: object, field: str = "id") -> str:
    return RECORD_ID.check(value, field)


def is_tenant(value: object) -> bool:
    """Whether ``value`` is a well-formed tenant name (it may still be unassigned)."""
    return isinstance(value, str) and _TENANT_RE.fullmatch(value) is not None


def check_text(value: str, field: str, max_bytes: int, error: type[InputError] = InputError) -> str:
    """Free text in an input (a notice id, a pattern): bounded, no control or format
    characters (NUL, zero-width, bidi overrides), so what is stored is what is shown."""
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise error(f"{field}: at most {max_bytes} bytes, this has {size}")
    for i, ch in enumerate(value):
        if unicodedata.category(ch) in _INVISIBLE:
            raise error(f"{field}: character {i + 1} is {_describe(ch)}, which is not allowed")
    return value


def show(value: str, limit: int = 48) -> str:
    """``value`` quoted for a one-line message: invisible and non-ASCII characters
    escaped (so ``acme\\u200bent`` does not print as ``acmeent``), long ones cut."""
    cut = value[:limit]
    out = "".join(ch if " " <= ch <= "~" and ch not in "'\\" else _escape(ch) for ch in cut)
    more = f"… ({len(value)} characters)" if len(value) > limit else ""
    return f"'{out}'{more}"


def _escape(ch: str) -> str:
    if ch in "'\\":
        return "\\" + ch
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _describe(ch: str) -> str:
    name = unicodedata.name(ch, "")
    code = f"U+{ord(ch):04X}"
    if ch == " ":
        return "a space"
    if name:
        return f"{code} {name}"
    return f"{code} (a control character)" if unicodedata.category(ch) == "Cc" else code
