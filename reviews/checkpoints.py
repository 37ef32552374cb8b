"""Signed checkpoints of the audit trail: the Ed25519 key they are signed with and the copy of
them kept outside the database.

A hash chain kept in the database catches an edited or deleted event, but a database superuser
who has read the code can delete the newest events, or edit one and re-chain every later hash by
the same recipe, and the chain still adds up. A checkpoint is a signature over a production's
chain head (event id, hash, event count) by a key that is not in the database, written both to
the database and to an append-only file outside it: the superuser can neither forge one nor make
the trail agree with one they cannot remove.

Settings (``docs/operations.md``): ``LOUPE_AUDIT_SIGNING_KEY`` (a PEM Ed25519 private key file;
generated on first use when it does not exist, mode 0600), ``LOUPE_AUDIT_TRUSTED_KEYS`` (PEM
public key files of retired signing keys, so checkpoints they signed still verify after a
rotation), ``LOUPE_AUDIT_CHECKPOINT_LOG`` (the append-only file of checkpoints, one JSON object a
line). Every checkpoint is also logged on the ``loupe.audit.checkpoints`` logger, which an
operator can route to syslog for a third copy.

Signatures: Ed25519 (RFC 8032) through ``cryptography``.
"""
import base64
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings

logger = logging.getLogger("loupe.audit.checkpoints")


class CheckpointKeyError(Exception):
    """The signing key or a trusted public key cannot be read (missing, unreadable or not Ed25519)."""


@dataclass(frozen=True)
class CheckpointClaim:
    """What a checkpoint signs: a production's chain head.

    The production is named by its id and creation time (ISO 8601), which together stay unique
    across databases; ``event_id`` and ``event_hash`` are the newest event's id and hash,
    ``event_count`` the number of the production's events up to and including it, ``signed_at``
    an ISO 8601 time.
    """

    production_id: int
    production_created_at: str
    event_id: int
    event_hash: str
    event_count: int
    signed_at: str

    def message(self) -> bytes:
        """The canonical bytes that are signed: sorted-key JSON without spaces."""
        return json.dumps(self.__dict__, sort_keys=True, separators=(",", ":")).encode()


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short name for a public key: the first 16 hex digits of SHA-256 over its raw 32 bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@cache
def _signing_key(path: str) -> Ed25519PrivateKey:
    file = Path(path)
    if not file.exists():
        file.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        try:
            descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: read theirs
        else:
            with os.fdopen(descriptor, "wb") as out:
                out.write(pem)
    try:
        key = serialization.load_pem_private_key(file.read_bytes(), password=None)
    except (OSError, ValueError) as error:
        raise CheckpointKeyError(f"Cannot read the audit signing key {file}: {error}") from error
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointKeyError(f"The audit signing key {file} is not an Ed25519 key.")
    return key


def signing_key() -> Ed25519PrivateKey:
    """The private key checkpoints are signed with (``LOUPE_AUDIT_SIGNING_KEY``).

    Raises ``CheckpointKeyError`` when the file exists but is not a readable Ed25519 PEM key."""
    return _signing_key(str(settings.LOUPE_AUDIT_SIGNING_KEY))


def trusted_keys() -> dict[str, Ed25519PublicKey]:
    """Public keys a checkpoint may be signed with, by key id: the current signing key's and
    those of retired keys (``LOUPE_AUDIT_TRUSTED_KEYS``). Raises ``CheckpointKeyError``."""
    keys = {}
    current = signing_key().public_key()
    keys[key_id(current)] = current
    for path in settings.LOUPE_AUDIT_TRUSTED_KEYS:
        try:
            key = serialization.load_pem_public_key(Path(path).read_bytes())
        except (OSError, ValueError) as error:
            raise CheckpointKeyError(f"Cannot read the trusted audit key {path}: {error}") from error
        if not isinstance(key, Ed25519PublicKey):
            raise CheckpointKeyError(f"The trusted audit key {path} is not an Ed25519 key.")
        keys[key_id(key)] = key
    return keys


def sign(claim: CheckpointClaim) -> tuple[str, str]:
    """Sign ``claim`` with the current key: returns ``(key_id, signature)``, the signature as
    base64 of its 64 bytes."""
    key = signing_key()
    return key_id(key.public_key()), base64.b64encode(key.sign(claim.message())).decode()


def signature_valid(claim: CheckpointClaim, *, signed_by: str, signature: str,
                    keys: dict[str, Ed25519PublicKey]) -> bool:
    """Whether ``signature`` (base64) over ``claim`` verifies with the trusted key ``signed_by``."""
    key = keys.get(signed_by)
    if key is None:
        return False
    try:
        key.verify(base64.b64decode(signature, validate=True), claim.message())
    except (InvalidSignature, ValueError):
        return False
    return True


def external_path() -> Path:
    """The append-only file of checkpoints outside the database (``LOUPE_AUDIT_CHECKPOINT_LOG``)."""
    return Path(settings.LOUPE_AUDIT_CHECKPOINT_LOG)


def external_append(record: dict) -> None:
    """Append one checkpoint record (claim fields plus ``key_id`` and ``signature``) to the
    file outside the database, as one JSON line, flushed to disk; and log it."""
    line = json.dumps(record, sort_keys=True, separators=(",", ":"))
    path = external_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(descriptor, (line + "\n").encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    logger.info(line)


def external_records() -> list[dict] | None:
    """Every checkpoint record kept outside the database, in file order; ``None`` when the file
    does not exist. A line that is not a JSON object is returned as ``{"unreadable": N}`` (N its
    line number) so that the verifier can name it."""
    path = external_path()
    if not path.exists():
        return None
    records = []
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                records.append({"unreadable": number})
                continue
            records.append(record if isinstance(record, dict) else {"unreadable": number})
    return records
