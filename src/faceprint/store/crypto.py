"""Encryption at rest: AES-256-GCM for embeddings, access keys' secrets and video data
(job results, uploaded videos), HMAC for the audit chain.

The key comes from ``FACEPRINT_KEY`` (64 hex digits or base64 of 32 bytes), else from
the file named by ``FACEPRINT_KEY_FILE``, else from ``<home>/key``, which a new store
creates (mode 0600). Keep the key file off the machine's backups of the store, or set
``FACEPRINT_KEY_FILE`` to a path on another volume: a copy of the database alone then
reveals no template.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from pathlib import Path

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from faceprint.errors import EncryptionKeyError

KEY_ENV = "FACEPRINT_KEY"
KEY_FILE_ENV = "FACEPRINT_KEY_FILE"
NONCE_BYTES = 12


def load_key(home: Path, *, create: bool) -> bytes:
    """The 32-byte store key, from the environment, a key file, or a new ``home/key``.

    Raises:
        EncryptionKeyError: the configured key is malformed, or none is configured for
            an existing store.
    """
    if os.environ.get(KEY_ENV):
        return _parse(os.environ[KEY_ENV], KEY_ENV)
    path = Path(os.environ[KEY_FILE_ENV]) if os.environ.get(KEY_FILE_ENV) else home / "key"
    try:
        if path.is_file():
            return _parse(path.read_text().strip(), str(path))
        if not create:
            raise EncryptionKeyError(
                f"the store at {home} is encrypted and no key was found: set {KEY_ENV} or {KEY_FILE_ENV}, "
                f"or restore {path}"
            )
        return _create(path)
    except OSError as exc:
        raise EncryptionKeyError(f"cannot read or create the key file {path}: {exc.strerror}") from None


def _create(path: Path) -> bytes:
    """Write a new key durably and atomically; if another process won the race, use
    its key instead."""
    key = secrets.token_bytes(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(key.hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if the key exists: never replaces a key
        except FileExistsError:
            return _parse(path.read_text().strip(), str(path))
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return key


def _parse(text: str, where: str) -> bytes:
    text = text.strip()
    try:
        key = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != 32:
        raise EncryptionKeyError(f"the key in {where} must be 32 bytes, as 64 hex digits or base64")
    return key


class Cipher:
    """Seals embeddings with AES-GCM; each record's id is bound as associated data, so a
    ciphertext moved onto another face's row fails to open."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(_derive(key, b"faceprint/embeddings"))
        self._mac_key = _derive(key, b"faceprint/audit")
        self._secrets = AESGCM(_derive(key, b"faceprint/secrets"))
        self._data = AESGCM(_derive(key, b"faceprint/video"))
        self.check_value = _derive(key, b"faceprint/key-check").hex()[:32]

    def seal(self, vector: np.ndarray, record_id: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        data = np.ascontiguousarray(vector, dtype="<f4").tobytes()
        return nonce + self._aead.encrypt(nonce, data, record_id.encode())

    def open(self, blob: bytes, record_id: str) -> np.ndarray:
        """Raises:
        EncryptionKeyError: the blob was not sealed with this key for this record."""
        try:
            data = self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], record_id.encode())
        except (InvalidTag, ValueError, TypeError):
            raise EncryptionKeyError(f"the embedding of {record_id} does not decrypt with this key (wrong key or tampered row)") from None
        return np.frombuffer(data, dtype="<f4").astype(np.float32)

    def seal_secret(self, secret: str, record_id: str) -> bytes:
        """Seal a credential (an access key's secret) bound to its record id."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._secrets.encrypt(nonce, secret.encode(), record_id.encode())

    def open_secret(self, blob: bytes, record_id: str) -> str:
        """Raises:
        EncryptionKeyError: the blob was not sealed with this key for this record."""
        try:
            return self._secrets.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], record_id.encode()).decode()
        except (InvalidTag, ValueError, TypeError):
            raise EncryptionKeyError(f"the secret of {record_id} does not decrypt with this key (wrong key or tampered row)") from None

    def seal_data(self, data: bytes, record_id: str) -> bytes:
        """Seal other sensitive bytes kept at rest (video job results, uploaded videos),
        bound to their record id."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._data.encrypt(nonce, data, record_id.encode())

    def open_data(self, blob: bytes, record_id: str) -> bytes:
        """Raises:
        EncryptionKeyError: the blob was not sealed with this key for this record."""
        try:
            return self._data.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], record_id.encode())
        except (InvalidTag, ValueError, TypeError):
            raise EncryptionKeyError(f"the data of {record_id} does not decrypt with this key (wrong key or tampered file)") from None

    def mac(self, message: bytes) -> str:
        return hmac.new(self._mac_key, message, hashlib.sha256).hexdigest()


def _derive(key: bytes, label: bytes) -> bytes:
    return hmac.new(key, label, hashlib.sha256).digest()
