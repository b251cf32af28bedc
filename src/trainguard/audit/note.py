"""Checkpoints as C2SP signed notes, signed with Ed25519.

A checkpoint body is three lines — origin, tree size, base64 root hash — and
a signature line ``— <name> <base64(key id ‖ signature)>`` where the key id
is the first four bytes of SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key). The
verifier key travels as ``<name>+<hex key id>+<base64(0x01 ‖ public key)>``,
the form other signed-note tools read.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import InputError, IntegrityError

_ALG_ED25519 = b"\x01"
_DASH = "\u2014"


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ALG_ED25519 + public).digest()[:4]


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


@dataclass(frozen=True)
class VerifierKey:
    name: str
    public: bytes

    @property
    def text(self) -> str:
        kid = key_id(self.name, self.public).hex()
        return f"{self.name}+{kid}+{base64.b64encode(_ALG_ED25519 + self.public).decode()}"

    @classmethod
    def parse(cls, text: str, source: str = "verifier key") -> VerifierKey:
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise InputError(f"{source}: not a verifier key (name+keyid+base64 key)")
        name, kid_hex, b64 = parts
        try:
            raw = base64.b64decode(b64, validate=True)
        except ValueError:
            raise InputError(f"{source}: the key is not valid base64") from None
        if len(raw) != 33 or raw[:1] != _ALG_ED25519:
            raise InputError(f"{source}: not an Ed25519 verifier key")
        key = cls(name, raw[1:])
        if key_id(name, key.public).hex() != kid_hex.lower():
            raise InputError(f"{source}: key id does not match the key")
        return key

    @property
    def key_id(self) -> str:
        return key_id(self.name, self.public).hex()

    def verify(self, note: str) -> Checkpoint:
        """Check the note's signature by this key and return its checkpoint."""
        return parse_body(self.verify_note(note))

    def verify_note(self, note: str) -> str:
        """Check a signed note's signature by this key and return its body (with its newline)."""
        body, sep, sigs = note.partition("\n\n")
        if not sep:
            raise IntegrityError("checkpoint: no signature section")
        body += "\n"
        kid = key_id(self.name, self.public)
        pub = Ed25519PublicKey.from_public_bytes(self.public)
        prefix = f"{_DASH} {self.name} "
        for line in sigs.splitlines():
            if not line.startswith(prefix):
                continue
            try:
                raw = base64.b64decode(line[len(prefix) :], validate=True)
            except ValueError:
                continue
            if raw[:4] != kid or len(raw) != 68:
                continue
            try:
                pub.verify(raw[4:], body.encode())
            except InvalidSignature:
                raise IntegrityError("checkpoint: signature does not verify") from None
            return body
        raise IntegrityError(f"checkpoint: no signature by key {self.name}+{self.key_id}")


def parse_body(body: str) -> Checkpoint:
    lines = body.split("\n")
    if len(lines) < 4:
        raise IntegrityError("checkpoint: body must be origin, size and root")
    try:
        size = int(lines[1])
        root = base64.b64decode(lines[2], validate=True)
    except ValueError:
        raise IntegrityError("checkpoint: malformed size or root hash") from None
    if len(root) != 32 or size < 0:
        raise IntegrityError("checkpoint: malformed size or root hash")
    return Checkpoint(lines[0], size, root)


class Signer:
    """An Ed25519 signing key with the note name it signs as."""

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        self.name = name
        self._private = private
        self.public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def verifier(self) -> VerifierKey:
        return VerifierKey(self.name, self.public)

    def sign(self, checkpoint: Checkpoint) -> str:
        return self.sign_note(checkpoint.body())

    def sign_note(self, body: str) -> str:
        """A C2SP signed note of ``body`` (text ending in a newline) signed by this key."""
        return body + "\n" + self.signature_line(body) + "\n"

    def signature_line(self, body: str) -> str:
        sig = self._private.sign(body.encode())
        line = base64.b64encode(key_id(self.name, self.public) + sig).decode()
        return f"{_DASH} {self.name} {line}"

    @classmethod
    def generate(cls, name: str) -> Signer:
        return cls(name, Ed25519PrivateKey.generate())

    def save(self, path: Path) -> None:
        """Write the key as ``PRIVATE+name+base64 seed``, mode 0600, refusing to overwrite."""
        seed = self._private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        text = f"PRIVATE+KEY+{self.name}+{base64.b64encode(_ALG_ED25519 + seed).decode()}\n"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise InputError(f"{path}: a key file already exists; refusing to overwrite") from None
        with os.fdopen(fd, "w") as f:
            f.write(text)

    @classmethod
    def load(cls, path: Path) -> Signer:
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            raise InputError(
                f"{path}: no such signing key (create one with `audit keygen`)"
            ) from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read the signing key ({exc.strerror})") from None
        parts = text.split("+", 3)
        if len(parts) != 4 or parts[:2] != ["PRIVATE", "KEY"]:
            raise InputError(f"{path}: not a trainguard signing key")
        try:
            raw = base64.b64decode(parts[3], validate=True)
        except ValueError:
            raise InputError(f"{path}: the key is not valid base64") from None
        if len(raw) != 33 or raw[:1] != _ALG_ED25519:
            raise InputError(f"{path}: not an Ed25519 signing key")
        return cls(parts[2], Ed25519PrivateKey.from_private_bytes(raw[1:]))
