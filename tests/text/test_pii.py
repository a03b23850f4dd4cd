"""Masking personal data in free text; plates and order numbers stay readable."""

from __future__ import annotations

import pytest

from node.text.normalize import mask_pii


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("我的电话13812345678请回电", "我的电话*******5678请回电"),
        ("电话 138 1234 5678", "电话 *******5678"),
        ("+86 13912345678", "+86 *******5678"),
        ("座机025-83456789", "座机*******6789"),
        ("身份证320102199001011234", "身份证320102********1234"),
        ("身份证32010219900101123X", "身份证320102********123X"),
        ("卡号6222 0212 3456 7890 123", "卡号6222***********0123"),
        ("邮箱zhang.san@example.com", "邮箱z***@example.com"),
        ("电话１３８１２３４５６７８", "电话*******5678"),
    ],
)
def test_masks(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "车牌苏A12345的出租车",
        "工单号320100202401011000123已办结",
        "2024年5月1日上午10点，收费50元",
        "K301路公交车",
    ],
)
def test_keeps_non_personal_numbers(text: str) -> None:
    assert mask_pii(text) == text


def test_free_text_and_stored_phones_share_one_rule() -> None:
    from node.pii import mask_phone

    assert mask_phone("13812348000") == "*******8000"
    assert mask_pii("电话13812348000") == "电话" + mask_phone("13812348000")
    assert mask_phone("025-83456789") == "*******6789"


def test_rejects_non_text() -> None:
    with pytest.raises(TypeError):
        mask_pii(13812345678)  # type: ignore[arg-type]
