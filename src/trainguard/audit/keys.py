"""The log's own record of which key signs it: a pin, then signed rotations.

Whoever can write the database can also drop a checkpoint, sign a new one
with a fresh key and leave that key's ``.pub`` beside the store. So the
verifier key is written *into the log*: an ``audit.key_pinned`` entry names
the key (and the most entries that may go unsigned), and each later key
arrives in an ``audit.key_rotated`` entry signed by the key it replaces.
Changing either rewrites a leaf that every later checkpoint covers.

Each event carries a statement, a signed note (the C2SP form checkpoints
use) whose body is::

    <origin>
    key-pin <index>                 or   key-rotation <index>
    <name+keyid+base64 verifier key>
    max-unsigned <n>

signed by the pinned key; a rotation by the old key and by the new one (the
new signature shows the rotator holds it). The second line is not a number,
so a statement can never pass for a checkpoint, nor a checkpoint for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import InputError, IntegrityError
from .note import Signer, VerifierKey

PIN_KIND = "audit.key_pinned"
ROTATION_KIND = "audit.key_rotated"
KEY_KINDS = (PIN_KIND, ROTATION_KIND)
DEFAULT_MAX_UNSIGNED = 1000
_VERB = {PIN_KIND: "key-pin", ROTATION_KIND: "key-rotation"}


class KeyChainError(IntegrityError):
    """A key event in the log does not verify; names the entry."""

    def __init__(self, index: int, problem: str) -> None:
        super().__init__(f"entry {index}: {problem}")
        self.index = index


def check_max_unsigned(value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError(f"max unsigned entries: {value!r} is not a whole number ≥ 1")
    return value


def statement_body(origin: str, kind: str, index: int, key: VerifierKey, max_unsigned: int) -> str:
    return f"{origin}\n{_VERB[kind]} {index}\n{key.text}\nmax-unsigned {max_unsigned}\n"


def pin_data(signer: Signer, origin: str, index: int, max_unsigned: int) -> dict[str, Any]:
    """The data of the ``audit.key_pinned`` entry at ``index``."""
    key = signer.verifier
    body = statement_body(origin, PIN_KIND, index, key, check_max_unsigned(max_unsigned))
    return {
        "key": key.text,
        "key_id": key.key_id,
        "max_unsigned": max_unsigned,
        "statement": signer.sign_note(body),
    }


def rotation_data(
    old: Signer, new: Signer, origin: str, index: int, max_unsigned: int
) -> dict[str, Any]:
    """The data of the ``audit.key_rotated`` entry at ``index``: signed by both keys."""
    key = new.verifier
    body = statement_body(origin, ROTATION_KIND, index, key, check_max_unsigned(max_unsigned))
    statement = f"{body}\n{old.signature_line(body)}\n{new.signature_line(body)}\n"
    return {
        "key": key.text,
        "key_id": key.key_id,
        "previous_key": old.verifier.text,
        "max_unsigned": max_unsigned,
        "statement": statement,
    }


@dataclass(frozen=True)
class KeyEvent:
    index: int
    kind: str
    key: VerifierKey
    max_unsigned: int


class KeyChain:
    """The verified sequence of keys a log has pinned, from its key events."""

    def __init__(self, events: list[KeyEvent]) -> None:
        self.events = events

    @classmethod
    def from_entries(cls, origin: str, entries: Iterable[tuple[int, dict[str, Any]]]) -> KeyChain:
        """Check each event's statement, in log order; raises :class:`KeyChainError`."""
        events: list[KeyEvent] = []
        for index, entry in entries:
            kind = entry.get("kind")
            data = entry.get("data")
            if kind not in KEY_KINDS or not isinstance(data, dict):
                raise KeyChainError(index, "not a key event")
            try:
                key = VerifierKey.parse(str(data.get("key")), "key")
                limit = check_max_unsigned(data.get("max_unsigned"))  # type: ignore[arg-type]
            except InputError as exc:
                raise KeyChainError(index, f"malformed key event ({exc})") from None
            body = statement_body(origin, kind, index, key, limit)
            statement = str(data.get("statement"))
            if kind == PIN_KIND:
                if events:
                    raise KeyChainError(
                        index, "a second key pin (a key changes only by a signed rotation)"
                    )
                _signed(index, key, statement, body, "the key pin is not signed by its key")
            else:
                if not events:
                    raise KeyChainError(index, "a key rotation with no key pinned before it")
                old = events[-1].key
                _signed(
                    index,
                    old,
                    statement,
                    body,
                    f"key rotation is not signed by the key in force ({old.name}+{old.key_id})",
                )
                _signed(index, key, statement, body, "key rotation is not signed by the new key")
            events.append(KeyEvent(index, kind, key, limit))
        return cls(events)

    @property
    def pinned(self) -> bool:
        return bool(self.events)

    @property
    def current(self) -> VerifierKey:
        return self.events[-1].key

    @property
    def max_unsigned(self) -> int:
        return self.events[-1].max_unsigned if self.events else DEFAULT_MAX_UNSIGNED

    def key_for(self, size: int) -> VerifierKey:
        """The key that signs a checkpoint of ``size`` entries.

        A checkpoint of size s covers entries before s, so an event at index i
        is in force from size i + 1; sizes before the pin fall to the first key.
        """
        key = self.events[0].key
        for event in self.events[1:]:
            if event.index < size:
                key = event.key
        return key

    def holds(self, key: VerifierKey) -> bool:
        return any(e.key == key for e in self.events)

    def describe(self) -> str:
        first = self.events[0].key
        rotations = len(self.events) - 1
        text = f"pinned key {first.name}+{first.key_id}"
        if rotations:
            text += f", {rotations} rotation{'s' if rotations > 1 else ''} to {self.current.name}+{self.current.key_id}"
        return text


def _signed(index: int, key: VerifierKey, statement: str, body: str, problem: str) -> None:
    try:
        signed = key.verify_note(statement)
    except IntegrityError:
        raise KeyChainError(index, problem) from None
    if signed != body:
        raise KeyChainError(index, "the key statement does not match the entry")
