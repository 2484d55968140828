"""AES-256-GCM for user data at rest (seed §4.3.3, §6.1).

Each blob is `MGW1 | key id (8 bytes) | nonce (12) | ciphertext+tag`, with the row key as associated data so
a blob cannot be moved to another row. The key id (first 8 bytes of SHA-256 of the key) lets a wrong key fail
with a clear `WrongKeyError` instead of garbage or a bare tag error. Keys are 32 random bytes stored hex in a
key file (mode 0600) or in an environment variable; rotation re-encrypts under a new key (see UserStore).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mgw.errors import CorruptFileError, DataError, MgwError

MAGIC = b"MGW1"
DEFAULT_ENV = "MGW_STORE_KEY"


class WrongKeyError(MgwError):
    """Data encrypted under a different key than the one given."""


class MissingKeyError(MgwError):
    """No key file and no key in the environment."""


class KeyFileError(MgwError):
    """A key file path that cannot hold a key (a directory), or one that already holds a key."""


def new_key() -> bytes:
    return secrets.token_bytes(32)


def write_key_file(path: str | Path, key: bytes | None = None, overwrite: bool = False) -> Path:
    """Write a key (new random by default) with mode 0600. An existing key is never replaced unless `overwrite`:
    data encrypted with it would become unreadable."""
    path = Path(path)
    if path.is_dir():
        raise KeyFileError(f"{path} is a directory; give the path of a key file (e.g. {path / 'user.key'})")
    if path.exists() and not overwrite:
        raise KeyFileError(f"{path} already holds a key; data encrypted with it becomes unreadable if it is replaced "
                           f"(use --force to overwrite anyway, or `mgw store rotate-key` to re-encrypt)")
    if path.parent.exists() and not path.parent.is_dir():
        raise KeyFileError(f"{path.parent} is a file, not a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write((key or new_key()).hex() + "\n")
    return path


def _parse(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise DataError(f"{where}: key must be 64 hex characters") from None
    if len(key) != 32:
        raise DataError(f"{where}: AES-256 needs a 32-byte key, got {len(key)} bytes")
    return key


def load_key(key_file: str | Path | None = None, env: str = DEFAULT_ENV) -> bytes:
    """The key from `key_file` if given and present, else from `$env`."""
    if key_file and Path(key_file).is_dir():
        raise KeyFileError(f"key file {key_file} is a directory (store.key_file must name a file)")
    if key_file and Path(key_file).exists():
        try:
            text = Path(key_file).read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise KeyFileError(f"key file {key_file} cannot be read: {e}") from None
        return _parse(text, str(key_file))
    if os.environ.get(env):
        return _parse(os.environ[env], f"${env}")
    raise MissingKeyError(f"no encryption key: create one with `mgw store init-key` (writes {key_file or 'a key file'}) "
                          f"or set ${env} to 64 hex characters")


class Cipher:
    def __init__(self, key: bytes):
        if len(key) != 32:
            raise DataError("AES-256-GCM needs a 32-byte key")
        self.key_id = hashlib.sha256(key).digest()[:8]
        self._aead = AESGCM(key)
        self._mac_key = hashlib.sha256(b"mgw-pseudonym" + key).digest()

    def encrypt(self, plain: bytes, aad: bytes = b"") -> bytes:
        nonce = secrets.token_bytes(12)
        return MAGIC + self.key_id + nonce + self._aead.encrypt(nonce, plain, aad)

    def decrypt(self, blob: bytes, aad: bytes = b"") -> bytes:
        if blob[:4] != MAGIC or len(blob) < 4 + 8 + 12 + 16:
            raise CorruptFileError("not an mgw encrypted blob")
        if blob[4:12] != self.key_id:
            raise WrongKeyError(f"data was encrypted with key {blob[4:12].hex()}, the given key is {self.key_id.hex()}")
        try:
            return self._aead.decrypt(blob[12:24], blob[24:], aad)
        except InvalidTag:
            raise CorruptFileError("authentication failed: the encrypted data was modified") from None

    def pseudonym(self, value: str) -> str:
        """Keyed, stable pseudonym (HMAC-SHA256): the same user maps to the same token, which only the key holder
        can recompute (needed to find pseudonymised rows when a user asks to be forgotten)."""
        return "p_" + hmac.new(self._mac_key, value.encode(), hashlib.sha256).hexdigest()[:24]
