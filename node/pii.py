"""Caller phone numbers are personal data: encrypted at rest (Fernet, AES-128-CBC + HMAC),
looked up by keyed hash, shown masked to roles without `pii.view`."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken

PHONE_RE = re.compile(r"^\+?[0-9][0-9\- ]{2,24}$")


@dataclass(frozen=True)
class Protected:
    """What the database stores for one phone number."""

    cipher: str
    digest: str
    masked: str


class PiiCodec:
    def __init__(self, key: bytes):
        self._fernet = Fernet(key)
        self._hmac_key = hashlib.sha256(b"12328-pii-lookup\0" + key).digest()

    def protect(self, phone: str) -> Protected:
        normal = normalize_phone(phone)
        return Protected(
            cipher=self._fernet.encrypt(normal.encode()).decode(),
            digest=self.digest(normal),
            masked=mask_phone(normal),
        )

    def digest(self, phone: str) -> str:
        return hmac.new(self._hmac_key, normalize_phone(phone).encode(), hashlib.sha256).hexdigest()[:32]

    def encrypt_bytes(self, data: bytes) -> bytes:
        """Other personal data at rest with the same key (e.g. a transfer waiting in the outbox)."""
        return self._fernet.encrypt(data)

    def decrypt_bytes(self, token: bytes) -> bytes:
        return self._fernet.decrypt(token)

    def reveal(self, cipher: str) -> str:
        try:
            return self._fernet.decrypt(cipher.encode()).decode()
        except InvalidToken:
            return "（无法解密）"


def normalize_phone(phone: str) -> str:
    digits = re.sub(r"[^0-9+]", "", phone.strip())
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    return digits


def valid_phone(phone: str) -> bool:
    return bool(PHONE_RE.match(phone.strip())) and 3 <= len(normalize_phone(phone)) <= 20


def mask_phone(phone: str) -> str:
    """138****5678 for mobiles; keep the area code and the last 2 digits of landlines."""
    p = normalize_phone(phone)
    if len(p) == 11 and p.startswith("1"):
        return p[:3] + "****" + p[-4:]
    if len(p) >= 7:
        return p[:3] + "*" * (len(p) - 5) + p[-2:]
    return "*" * len(p)


_codec: PiiCodec | None = None


def configure(key: bytes) -> None:
    global _codec
    _codec = PiiCodec(key)


def codec() -> PiiCodec:
    if _codec is None:
        raise RuntimeError("PII codec not configured: node.pii.configure(settings.data_key) first")
    return _codec
