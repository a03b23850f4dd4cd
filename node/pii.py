"""Caller phone numbers are personal data: encrypted at rest (Fernet, AES-128-CBC + HMAC),
looked up by keyed hash, shown masked to roles without `pii.view`."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

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

    def digest_id(self, value: str) -> str:
        """The keyed hash of another identifier (e.g. a WeChat openid), taken as it is."""
        return hmac.new(self._hmac_key, b"id\0" + value.encode(), hashlib.sha256).hexdigest()[:32]

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
    """The one masking rule for phone numbers: only the last four digits stay (13812348000 →
    *******8000, 025-83456789 → *******6789); shorter numbers are masked whole. Showing more (the
    old 138****8000) let anyone who may search by number recover it in a few thousand guesses."""
    p = normalize_phone(phone)
    if len(p) >= 7:
        return "*" * (len(p) - 4) + p[-4:]
    return "*" * len(p)


def is_full_number(phone: str) -> bool:
    """A whole number, not a fragment: an 11-digit mobile, a landline with its area code
    (0 + 9-11 digits) or a local landline of 7-8 digits."""
    p = normalize_phone(phone)
    if not p.isdigit():
        return False
    if p.startswith("1"):
        return len(p) == 11
    if p.startswith("0"):
        return 10 <= len(p) <= 12
    return 7 <= len(p) <= 8


# Searching by caller number (来电号码查询): only roles that may see phones, whole numbers only,
# at most PHONE_SEARCH_LIMIT searches per user per window, each one audited.
PHONE_SEARCH_LIMIT = 100
PHONE_SEARCH_WINDOW_MINUTES = 10


def guard_phone_search(actor: Any, phone: str) -> str:
    """Check, count and audit one search by caller number; returns the normalised number."""
    import datetime as dt

    from node import clock
    from node.audit import service as audit
    from node.audit.models import AuditEntry
    from node.errors import PermissionDenied, RateLimited, ValidationError

    if not actor.can("pii.view"):
        raise PermissionDenied("当前角色无权按来电号码查询")
    if len(phone) > 40 or not valid_phone(phone) or not is_full_number(phone):
        raise ValidationError(
            "请输入完整的来电号码（手机11位，固话含区号）", details={"phone": "应为完整号码"}
        )
    since = (clock.now() - dt.timedelta(minutes=PHONE_SEARCH_WINDOW_MINUTES)).replace(tzinfo=None)
    used = (
        AuditEntry.select()
        .where(
            AuditEntry.event == "pii.phone_search",
            AuditEntry.actor_id == actor.user_id,
            AuditEntry.actor_name == actor.username,
            AuditEntry.at >= since,
        )
        .count()
    )
    if used >= PHONE_SEARCH_LIMIT:
        raise RateLimited(
            f"按来电号码查询过于频繁（每{PHONE_SEARCH_WINDOW_MINUTES}分钟至多{PHONE_SEARCH_LIMIT}次），请稍后再试"
        )
    normal = normalize_phone(phone)
    audit.record(actor, "pii.phone_search", mask_phone(normal))
    return normal


_codec: PiiCodec | None = None


def configure(key: bytes) -> None:
    global _codec
    _codec = PiiCodec(key)


def codec() -> PiiCodec:
    if _codec is None:
        raise RuntimeError("PII codec not configured: node.pii.configure(settings.data_key) first")
    return _codec
