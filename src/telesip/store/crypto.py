"""SIP passwords at rest: Fernet (AES-128-CBC + HMAC-SHA256) with the service's secret key.

The key comes from ``TELESIP_SECRET_KEY`` or from ``DATA_DIR/secret.key``, which is generated
on first start with mode 0600. Any string is accepted as TELESIP_SECRET_KEY: a Fernet key is
used as is, anything else is stretched with HKDF-SHA256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from telesip.domain.errors import ConfigError
from telesip.domain.settings import Secret


def _fernet_key(material: str) -> bytes:
    try:
        if len(base64.urlsafe_b64decode(material.encode())) == 32:
            return material.encode()
    except (ValueError, TypeError):
        pass
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"telesip-fernet").derive(
        material.encode()
    )
    return base64.urlsafe_b64encode(derived)


class Cipher:
    """Encrypts/decrypts secrets; also gives keyed hashes for rate-limit bookkeeping."""

    def __init__(self, key_material: str) -> None:
        key = _fernet_key(key_material)
        self._fernet = Fernet(key)
        self._mac_key = hashlib.sha256(b"telesip-mac" + key).digest()

    def encrypt(self, secret: Secret) -> bytes:
        return self._fernet.encrypt(secret.reveal().encode())

    def decrypt(self, token: bytes) -> Secret:
        try:
            return Secret(self._fernet.decrypt(token).decode())
        except InvalidToken:
            raise ConfigError(
                reason="a stored password cannot be decrypted: TELESIP_SECRET_KEY or the key "
                "file is not the one it was stored with"
            ) from None

    def seal(self, data: bytes) -> bytes:
        """Encrypt bytes that are secret as a whole (a file holding passwords)."""
        return self._fernet.encrypt(data)

    def unseal(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise ConfigError(
                reason="stored data cannot be decrypted: TELESIP_SECRET_KEY or the key file is "
                "not the one it was stored with"
            ) from None

    def matches(self, token: bytes, candidate: str) -> bool:
        """Constant-time comparison of a stored password with a candidate."""
        stored = self.decrypt(token).reveal().encode()
        return hmac.compare_digest(stored, candidate.encode())

    def mac(self, *parts: str | int) -> bytes:
        msg = "\x00".join(str(p) for p in parts).encode()
        return hmac.new(self._mac_key, msg, hashlib.sha256).digest()[:16]


def load_key(secret_key: str | None, data_dir: Path) -> str:
    """The key material: the setting if given, else the key file (created 0600 if missing)."""
    if secret_key:
        return secret_key
    path = data_dir / "secret.key"
    try:
        if path.exists():
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)
            material = path.read_text().strip()
            if not material:
                raise ConfigError(reason=f"key file {path} is empty")
            return material
        data_dir.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key().decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
        return key
    except OSError as exc:
        raise ConfigError(reason=f"cannot read or create key file {path}: {exc.strerror}") from None
