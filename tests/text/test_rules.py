"""The cold-start categoriser on the shipped lexicon: business-type cues, the transport lexicon,
recognisers (plates, lines, road/train/flight numbers), deciding words and the lexicon's own
consistency. No database: the categoriser is built from `builtin_entries()`."""

from __future__ import annotations

from collections import Counter

import pytest

from node.errors import ValidationError
from node.text.rules import (
    PRIOR,
    TOKENS,
    Categoriser,
    Entry,
    builtin_categoriser,
    builtin_entries,
    check_term,
    check_weight,
    optative_spans,
    taxonomy,
)

CAT = builtin_categoriser()


def top(title: str, content: str = "") -> tuple[str, str, str]:
    """(business type, domain, leaf) first suggestions; '' where nothing is suggested."""
    s = CAT.suggest(title, content)
    return (
        s.business_type[0].code,
        s.domain[0].code if s.domain else "",
        s.sub_business[0].code if s.sub_business else "",
    )


# ---- business type cues -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        # the bus complaint: no 投诉 at all, but 反映 / 没停 / 态度不好
        (
            "乘客反映提前按了门铃，司机到站没停，乘客问司机怎么不停车，司机说乘客没站起来就不停，沟通中司机态度不好。",
            "1",
        ),
        ("出租车司机拒载，要求处理", "1"),
        ("快递点取件每件另收2元，为什么包邮还要另外收费？", "1"),  # a rhetorical question
        ("来电人咨询网约车驾驶员证怎么办理，需要什么材料", "2"),
        ("请问去机场的大巴几点发车？", "2"),
        ("我的钱包落在出租车上了，请问怎么找回", "2"),
        ("建议增开65路公交夜班车，方便下夜班的市民", "3"),
        ("希望在小区门口增设公交站点", "3"),
    ],
)
def test_business_type_cues(text: str, expected: str) -> None:
    assert top("", text)[0] == expected


def test_title_states_the_purpose() -> None:
    body = "小区门口的公交站牌被撞歪了，乘客等车不方便。"
    assert top("关于公交站牌的建议", body)[0] == "3"
    assert top("投诉公交站牌无人维修", body)[0] == "1"


# Proposal words are proposals only in the optative mood (after 希望/建议/能否 … or in the title);
# in a description (车流量增加) they count half. A two-word lexicon makes the arithmetic visible:
# 增加 (意见建议 2) against 严重 (投诉举报 1.5).
MOOD = Categoriser([Entry("增加", "3", 2), Entry("严重", "1", 1.5)])


def mood_type(title: str, content: str) -> str:
    return MOOD.suggest(title, content).business_type[0].code


def test_a_proposal_word_in_a_description_counts_half() -> None:
    assert mood_type("", "近年车流量增加，拥堵严重。") == "1"  # 2 × 0.5 < 1.5
    assert mood_type("", "拥堵严重，希望增加班次。") == "3"  # wished for: 2 > 1.5
    assert mood_type("", "拥堵严重。能否增加班次？") == "3"
    assert mood_type("增加班次", "拥堵严重。") == "3"  # the title states the purpose


def test_the_mood_ends_with_its_sentence_unless_a_list_follows() -> None:
    # 希望 governs its own sentence only: the next sentence describes again
    assert mood_type("", "希望早日开通。车流量增加，拥堵严重。") == "1"
    # 建议如下： opens a list: every item is proposed
    assert mood_type("", "拥堵严重。建议如下：\n1. 调整线路。\n2. 增加班次。") == "3"
    text = "车多。希望增设站点，方便出行。以前没有"
    assert [text[a:b] for a, b in optative_spans(text)] == ["希望增设站点，方便出行"]
    assert optative_spans("现状如下：拥堵") == []


def test_proposal_words_in_complaints_and_proposals_on_the_shipped_lexicon() -> None:
    # 增加 describes traffic here; the road's state is the complaint
    assert top("", "这条路车流量增加，大车也增加了，路面坑坑洼洼。")[0] == "1"
    assert top("", "路面坑坑洼洼，希望增加养护次数。")[0] == "3"
    first = CAT.suggest("", "早高峰65路太挤，建议增加班次。").business_type[0]
    assert first.code == "3" and first.words[:2] == ["建议", "增加"]


def test_type_words_are_shown_and_confidence_is_a_probability() -> None:
    s = CAT.suggest("", "出租车司机拒载，态度恶劣，要求处理")
    first = s.business_type[0]
    assert first.name == "投诉举报" and {"拒载", "态度恶劣", "要求处理"} <= set(first.words)
    assert 0.9 < first.confidence < 1.0
    assert abs(sum(c.confidence for c in CAT.suggest("", "x", top=3).business_type) - 1.0) < 0.01


# ---- categories: everyday words → official domain and sub-business ------------------------------


@pytest.mark.parametrize(
    "text, leaf",
    [
        ("公交车到站不停，按了门铃也没用", "0401"),
        ("几路车去南京南站？站牌上没写", "0401"),
        ("刷卡扣了两次钱", "0401"),
        ("的哥不打表，一口价要五十", "0403"),
        ("网约车司机中途甩客", "0403"),
        ("地铁2号线早高峰太挤", "0402"),
        ("高速收费站ETC重复扣费", "0106"),
        ("国道上有个大坑，晚上看不见", "0107"),
        ("驾校教练索要红包，不给就不让练车", "0306"),
        ("汽车站售票窗口只开一个，排队一小时", "0303"),
        ("货拉拉司机到了地方加价", "0302"),
        ("轮渡早上七点才开，太晚了", "0404"),
        ("船员适任证书到期怎么换", "0604"),
        ("火车票改签不了", "08"),
        ("航班延误八个小时没人管", "09"),
        ("快递员不送上门，取件还要收费", "10"),
        ("小区门口红绿灯坏了", "00"),
        ("邮政储蓄银行柜员态度差", "00"),  # a bank, not postal services
    ],
)
def test_everyday_words_find_the_official_category(text: str, leaf: str) -> None:
    assert top("", text)[2] == leaf


def test_the_first_leaf_lies_in_the_first_domain() -> None:
    s = CAT.suggest("", "高速路面坑洼，收费站还照样收通行费，服务区厕所也脏")
    assert s.sub_business[0].domain == s.domain[0].code == "01"
    assert s.sub_business[0].label.startswith("公路 › ")


def test_nothing_suggested_without_a_transport_word_and_weak_evidence_is_unsure() -> None:
    s = CAT.suggest("", "今天天气不错")
    assert s.domain == [] and s.sub_business == []
    assert s.business_type  # the type always has a ranking (with a low confidence)
    weak = CAT.suggest("", "司机")
    strong = CAT.suggest("", "出租车司机拒载绕路不打表")
    assert weak.sub_business[0].confidence < 0.5 < 0.9 < strong.sub_business[0].confidence


def test_deciding_words_belong_to_the_candidate() -> None:
    s = CAT.suggest("", "出租车司机拒载，公交站牌也歪了")
    by_code = {c.code: c for c in s.sub_business}
    assert "出租车" in by_code["0403"].words and "出租车" not in by_code["0401"].words
    assert "公交站牌" in by_code["0401"].words


# ---- recognisers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, token, surface",
    [
        ("苏A12345的司机", "〈车牌〉", "苏A12345"),
        ("苏AD12345新能源车", "〈车牌〉", "苏AD12345"),
        ("教练车苏A1234学在路上", "〈教练车牌〉", "苏A1234学"),
        ("鲁B1234挂半挂车", "〈挂车牌〉", "鲁B1234挂"),
        ("坐65路到新街口", "〈公交线路〉", "65路"),
        ("K2路晚点", "〈公交线路〉", "K2路"),
        ("地铁三号线", "〈地铁线路〉", "三号线"),
        ("320国道", "〈国省道编号〉", "320国道"),
        ("X205县道", "〈国省道编号〉", "X205县道"),
        ("G4京港澳高速堵车", "〈高速编号〉", "G4"),
        ("G1234次列车晚点", "〈列车车次〉", "G1234"),
        ("MU5101航班", "〈航班号〉", "MU5101"),
        ("为什么？", "〈问号〉", "?"),
    ],
)
def test_recognisers(text: str, token: str, surface: str) -> None:
    hits = CAT.hits("", text)
    assert token in hits and hits[token].surface == surface


@pytest.mark.parametrize("text", ["5路口往东", "中山路128号", "这一路段", "G1234", "机动车"])
def test_recognisers_do_not_overreach(text: str) -> None:
    hits = CAT.hits("", text)
    assert "〈公交线路〉" not in hits and "〈列车车次〉" not in hits
    assert "动车" not in hits  # 机动车 is not a high-speed train


def test_a_recognised_span_is_not_read_again() -> None:
    hits = CAT.hits("", "320国道")
    assert "〈国省道编号〉" in hits and "国道" not in hits


def test_form_fields_are_evidence_through_plain_text() -> None:
    assert top("", "司机态度不好\n65路")[2] == "0401"


# ---- the lexicon itself ---------------------------------------------------------------------------


def test_builtin_lexicon_is_consistent() -> None:
    entries = builtin_entries()
    tax = taxonomy()
    assert len(entries) > 1000
    assert not [k for k, n in Counter((check_term(e.term), e.target) for e in entries).items() if n > 1]
    for e in entries:
        tax.kind_of(e.target)  # raises on an unknown code
        check_weight(e.weight)
        if e.term.startswith("〈"):
            assert e.term in TOKENS
    assert {e.target for e in entries if e.term == PRIOR} >= {"1", "2", "3"}
    # every in-scope sub-business can be reached by at least one word of its own
    reachable = {e.target for e in entries if e.weight > 0 and e.term != PRIOR}
    missing = [code for code, (d, _) in tax.subs.items() if code not in reachable]
    assert missing == [], missing


def test_term_and_weight_checks() -> None:
    assert check_term(" ＥＴＣ ") == "etc" and check_term("計程車") == "计程车"
    for bad in ["", "  ", "x" * 21, "〈不存在〉"]:
        with pytest.raises(ValidationError):
            check_term(bad)
    with pytest.raises(ValidationError):
        check_term(5)  # type: ignore[arg-type]
    for bad_weight in [11, -6, float("nan"), True, "3"]:
        with pytest.raises(ValidationError):
            check_weight(bad_weight)
    with pytest.raises(ValidationError):
        taxonomy().kind_of("0499")


def test_a_small_lexicon_and_negative_weights() -> None:
    cat = Categoriser([Entry("叮叮车", "0401", 4), Entry("叮叮车", "0402", -2), Entry(PRIOR, "2", 1)])
    s = cat.suggest("", "叮叮车晚点")
    assert s.sub_business[0].code == "0401" and s.business_type[0].code == "2"
    assert Categoriser([]).suggest("", "任何内容").sub_business == []
