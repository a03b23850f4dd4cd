"""Segmentation of transport terms, normalisation and the admin dictionary."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.errors import ValidationError
from node.text import segment
from node.text.normalize import normalize, to_simplified


def test_transport_terms_stay_whole() -> None:
    words = segment.cut("乘坐网约车被拒载，G42高速公路收费站ETC扣费两次，K301路公交车不停站")
    for term in ("网约车", "拒载", "高速公路", "收费站", "ETC", "K301路", "公交车", "G42"):
        assert term in words
    assert "网约" not in words


def test_plates_are_one_token_and_extracted() -> None:
    assert "苏A12345" in segment.cut("车牌苏a·12345的出租车绕路")
    assert "粤BD12345" in segment.cut("新能源车粤BD12345")
    assert segment.plates("前车苏A12345，后车 浙B 8888X") == ["苏A12345", "浙B8888X"]
    assert segment.plates("没有车牌") == []


def test_normalize_width_and_traditional() -> None:
    assert normalize("ＥＴＣ　扣費１２３元") == "ETC 扣费123元"
    assert to_simplified("計程車司機拒載") == "计程车司机拒载"
    assert to_simplified("出租车") == "出租车"
    with pytest.raises(TypeError):
        normalize(None)  # type: ignore[arg-type]


def test_search_tokens_cover_short_words_and_subwords() -> None:
    tokens = segment.search_tokens("計程車拒載，高速公路收費站").split()
    assert {"拒载", "高速", "公路", "高速公路", "收费站"} <= set(tokens)
    assert segment.search_tokens("") == ""
    assert segment.query_tokens("出租车 出租车 拒载") == ["出租车", "拒载"]


def test_terms_drop_stopwords_and_lowercase() -> None:
    words = segment.terms("我们希望ETC的问题尽快处理")
    assert "etc" in words
    assert "我们" not in words and "的" not in words


def test_admin_dictionary_changes_segmentation(tmp_path: Path) -> None:
    word = "龙蟠中路隧道口"
    assert word not in segment.cut(f"{word}积水严重")
    extra = tmp_path / "userdict.txt"
    extra.write_text(f"{word} 1000 n\n", encoding="utf-8")
    try:
        segment.configure([extra])
        assert word in segment.cut(f"{word}积水严重")
    finally:
        segment.configure([])
    assert word not in segment.cut(f"{word}积水严重")


def test_configure_from_settings_resolves_relative_paths(tmp_path: Path) -> None:
    from node.settings import for_tests

    s = for_tests(tmp_path, "sqlite:///x.db", extra={"text": {"user_dict": "dict/a.txt"}})
    try:
        assert segment.configure_from_settings(s) == [tmp_path / "dict" / "a.txt"]
        bad = for_tests(tmp_path, "sqlite:///x.db", extra={"text": {"user_dict": 5}})
        with pytest.raises(ValidationError):
            segment.configure_from_settings(bad)
    finally:
        segment.configure([])


def test_add_word_and_input_validation() -> None:
    segment.add_word("潮汐车道")
    assert "潮汐车道" in segment.cut("潮汐车道指示不清")
    with pytest.raises(ValidationError):
        segment.add_word("两 个")
    with pytest.raises(ValidationError):
        segment.cut(123)  # type: ignore[arg-type]
