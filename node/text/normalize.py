"""Text normalisation and personal-data masking (文本规范化与个人信息脱敏).

`normalize()` folds full-width characters to half width (NFKC) and traditional Chinese to
simplified (OpenCC tables via opencc-python-reimplemented, Apache-2.0), so that 計程車 and
计程车, ＥＴＣ and ETC match. `mask_pii()` hides phone, ID-card and bank-card numbers and e-mail
addresses in free text that leaves the node; licence plates are kept because they identify the
object of a complaint, not the caller.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from pathlib import Path
from typing import Any

from node.pii import mask_phone

_lock = threading.Lock()
_converter: Any = None
_traditional: frozenset[str] = frozenset()


def _t2s() -> tuple[Any, frozenset[str]]:
    """The OpenCC t2s converter and the set of characters it changes (loaded once, lazily)."""
    global _converter, _traditional
    if _converter is None:
        with _lock:
            if _converter is None:
                import opencc  # opencc-python-reimplemented

                table = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
                chars: set[str] = set()
                with table.open(encoding="utf-8") as fh:
                    for line in fh:
                        parts = line.split()
                        if len(parts) >= 2 and parts[0] not in parts[1:]:
                            chars.add(parts[0])
                _traditional = frozenset(chars)
                _converter = opencc.OpenCC("t2s")
    return _converter, _traditional


def to_simplified(text: str) -> str:
    """Traditional → simplified; texts without a traditional character are returned as they are."""
    converter, traditional = _t2s()
    if traditional.isdisjoint(text):
        return text
    return str(converter.convert(text))


_SPACE_RE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Half-width, simplified, single-spaced text (case kept)."""
    if not isinstance(text, str):
        raise TypeError("normalize() 需要字符串")
    text = unicodedata.normalize("NFKC", text)
    text = to_simplified(text)
    return _SPACE_RE.sub(" ", text).strip()


# --- personal data -------------------------------------------------------------------------
# Digits may be written with spaces or dashes (138 1234 5678, 6222-0212-3456-7890); full-width
# digits are folded first so ０１３８… is caught too. Lookarounds keep the numbers whole: a
# 21-digit work-order number is neither an ID nor a bank card.
_D = r"(?<![0-9A-Za-z])"
_E = r"(?![0-9A-Za-z])"
_SEP = r"[ \-]?"
_MOBILE_RE = re.compile(
    r"(?:(?<=\+86)|(?<![0-9A-Za-z]))(1[3-9]\d)" + _SEP + r"(\d{4})" + _SEP + r"(\d{4})" + _E
)
_LANDLINE_RE = re.compile(_D + r"(0\d{2,3})[ \-]?(\d{3,4})[ \-]?(\d{4})" + _E)
_ID18_RE = re.compile(
    _D + r"(\d{6})((?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(\d{3})([\dXx])" + _E
)
_ID15_RE = re.compile(_D + r"(\d{6})(\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(\d{3})" + _E)
_CARD_RE = re.compile(_D + r"((?:\d[ \-]?){12,18}\d)" + _E)
_EMAIL_RE = re.compile(r"([A-Za-z0-9._%+\-])([A-Za-z0-9._%+\-]*)@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})")


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(1))
    if not 16 <= len(digits) <= 19:
        return match.group(0)
    return digits[:4] + "*" * (len(digits) - 8) + digits[-4:]


_FULLWIDTH_DIGITS = {0xFF10 + i: str(i) for i in range(10)} | {
    0xFF0D: "-",
    0xFF38: "X",
    0xFF58: "x",
    0xFF20: "@",
}


def mask_pii(text: str) -> str:
    """Mask phone numbers, ID-card numbers, bank-card numbers and e-mail addresses.

    Phones follow the one rule of `node.pii.mask_phone` (last four digits only): mobile
    13812345678 → *******5678; landline 025-83456789 → *******6789; ID card
    320102199001011234 → 320102********1234; bank card → first 4 and last 4 digits; e-mail
    zhang.san@example.com → z***@example.com. Plates, order numbers and dates are left alone.
    """
    if not isinstance(text, str):
        raise TypeError("mask_pii() 需要字符串")
    text = text.translate(_FULLWIDTH_DIGITS)
    text = _EMAIL_RE.sub(lambda m: f"{m.group(1)}***@{m.group(3)}", text)
    text = _ID18_RE.sub(lambda m: m.group(1) + "*" * 8 + m.group(3) + m.group(4), text)
    text = _ID15_RE.sub(lambda m: m.group(1) + "*" * 6 + m.group(3), text)
    text = _CARD_RE.sub(_mask_card, text)
    text = _MOBILE_RE.sub(lambda m: mask_phone("".join(m.groups())), text)
    return _LANDLINE_RE.sub(lambda m: mask_phone("".join(m.groups())), text)
