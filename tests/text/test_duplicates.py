"""Duplicate finder on small texts: duplicates found, same place but different issue rejected."""

from __future__ import annotations

import datetime as dt

import pytest

from node.errors import ValidationError
from node.text.duplicates import DuplicateIndex, OrderDoc, Thresholds

T0 = dt.datetime(2024, 5, 1, 9, 0)

BACKGROUND = [
    "12路公交车司机开车打电话，乘客提醒也不听",
    "地铁2号线早高峰太挤，希望增加班次",
    "驾校收了学费迟迟不安排练车，要求退费",
    "长途汽车站售票员态度恶劣",
    "高速公路服务区厕所脏乱差",
    "货车超载严重，路面被压坏",
    "轮渡码头候船时间太长",
    "网约车平台乱扣费，客服不处理",
]


def doc(i: int, text: str, days: float = 0, **kw: object) -> OrderDoc:
    base = {"region_code": "320102", "domain": "04", "sub_business": "0403"}
    return OrderDoc(
        id=i, created_at=T0 + dt.timedelta(days=days), number=f"N{i}", text=text, **{**base, **kw}
    )


@pytest.fixture
def index() -> DuplicateIndex:
    ix = DuplicateIndex()
    for i, text in enumerate(BACKGROUND, start=100):
        ix.add(doc(i, text, days=-1, sub_business="0401", region_code="320104"))
    ix.add(doc(1, "出租车司机在南京南站拒载，还骂人，态度恶劣，要求处理", caller_hash="c1", plate="苏A12345"))
    ix.add(doc(2, "中山路与汉中路路口红绿灯坏了，路口很乱", domain="01", sub_business="0107"))
    return ix


def test_paraphrase_from_another_caller_is_found(index: DuplicateIndex) -> None:
    query = doc(None, "南京南站出租车拒载，司机态度恶劣还骂人", days=0.5, caller_hash="c9")  # type: ignore[arg-type]
    found = index.candidates(query)
    assert [c.number for c in found] == ["N1"]
    assert found[0].text_similarity > 0.5
    assert "同一区域同一领域" in found[0].reasons
    assert any(r.startswith("文本相似度") for r in found[0].reasons)
    assert "相隔12小时" in found[0].reasons


def test_same_plate_and_caller_with_other_wording(index: DuplicateIndex) -> None:
    query = doc(None, "苏A12345这辆车的司机不肯载我", days=1, caller_hash="c1")  # type: ignore[arg-type]
    found = index.candidates(query)
    assert found and found[0].number == "N1"
    assert "同一来电人" in found[0].reasons
    assert "同一车牌：苏A12345" in found[0].reasons


def test_same_place_different_issue_is_rejected(index: DuplicateIndex) -> None:
    query = doc(None, "南京南站出租车排队区没有遮阳棚，夏天太晒", days=0.2)  # type: ignore[arg-type]
    assert index.candidates(query) == []
    other = doc(None, "中山路公交站台的广告牌掉了", days=0.2, domain="01", sub_business="0107")  # type: ignore[arg-type]
    assert index.candidates(other) == []


def test_window_limits_candidates(index: DuplicateIndex) -> None:
    late = doc(None, "出租车司机在南京南站拒载，还骂人，态度恶劣", days=40)  # type: ignore[arg-type]
    assert index.candidates(late, window_days=30) == []
    assert [c.number for c in index.candidates(late, window_days=60)] == ["N1"]


def test_update_and_remove(index: DuplicateIndex) -> None:
    query = doc(None, "南京南站出租车拒载，司机态度恶劣还骂人", days=0.5)  # type: ignore[arg-type]
    index.update(doc(1, "中央路的路灯不亮了"))
    assert index.candidates(query) == []
    index.update(doc(1, "出租车司机在南京南站拒载，还骂人，态度恶劣"))
    assert [c.number for c in index.candidates(query)] == ["N1"]
    assert index.remove(1) is True
    assert index.remove(1) is False
    assert index.candidates(query) == []
    assert 1 not in index


def test_document_never_matches_itself(index: DuplicateIndex) -> None:
    own = doc(1, "出租车司机在南京南站拒载，还骂人，态度恶劣，要求处理", caller_hash="c1", plate="苏A12345")
    assert all(c.id != 1 for c in index.candidates(own))


def test_compact_keeps_results(index: DuplicateIndex) -> None:
    query = doc(None, "南京南站出租车拒载，司机态度恶劣还骂人", days=0.5)  # type: ignore[arg-type]
    index.remove(104)
    index.update(doc(2, "中山路路口红绿灯坏了"))
    before = [(c.number, c.score) for c in index.candidates(query)]
    slots = index.stats()["slots"]
    index.compact()
    assert index.stats()["slots"] == len(index) < slots
    assert [(c.number, c.score) for c in index.candidates(query)] == before


def test_prune_drops_old_documents(index: DuplicateIndex) -> None:
    assert index.prune(T0 - dt.timedelta(hours=1)) == len(BACKGROUND)
    assert len(index) == 2


@pytest.mark.parametrize(
    "raw",
    [
        {"window_days": 0},
        {"min_score": 2},
        {"nonsense": 1},
        {"min_score": "x"},
        {"geo_radius_m": 0},
        {"time_half_life_hours": 0},
        {"w_geo": 1.5},
    ],
)
def test_bad_thresholds_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Thresholds.from_dict(raw)


def test_thresholds_are_applied() -> None:
    strict = DuplicateIndex(Thresholds.from_dict({"min_score": 0.99}))
    strict.add(doc(1, "出租车司机拒载"))
    assert strict.candidates(doc(None, "出租车司机拒载", days=0.1)) == []  # type: ignore[arg-type]


def test_input_validation() -> None:
    ix = DuplicateIndex()
    with pytest.raises(ValidationError):
        ix.add(doc(None, "无编号"))  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        ix.candidates(doc(None, "x"), window_days=0)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        ix.candidates(doc(None, "x"), limit=500)  # type: ignore[arg-type]
    assert ix.candidates(doc(None, "空索引")) == []  # type: ignore[arg-type]


# ---- places and time ---------------------------------------------------------------------------
# 南京南站 and a point about 110 m north of it; 新街口 is about 6 km away.
STATION = (31.9700, 118.7970)
NEAR_STATION = (31.9710, 118.7970)
XINJIEKOU = (32.0417, 118.7841)


def geo_doc(
    i: int | None, text: str, at: tuple[float, float] | None, days: float = 0, **kw: object
) -> OrderDoc:
    lat, lng = at if at else (None, None)
    return doc(i, text, days=days, latitude=lat, longitude=lng, **kw)  # type: ignore[arg-type]


def test_distance_between_coordinates() -> None:
    from node.text.duplicates import distance_m

    assert distance_m(*STATION, *NEAR_STATION) == pytest.approx(111.2, abs=0.5)
    assert 7500 < distance_m(*STATION, *XINJIEKOU) < 8500


def test_nearby_order_with_other_address_text_is_found() -> None:
    ix = DuplicateIndex(Thresholds(min_score=0.0))
    for i, text in enumerate(BACKGROUND, start=100):
        ix.add(geo_doc(i, text, XINJIEKOU, days=-1, address="新街口"))
    ix.add(geo_doc(1, "路灯坏了，晚上很黑", NEAR_STATION, address="玉兰路8号"))
    ix.add(geo_doc(2, "路灯坏了，晚上很黑", XINJIEKOU, address="中山南路1号"))
    query = geo_doc(None, "路灯坏了", STATION, days=0.1, address="南京南站北广场")
    found = ix.candidates(query)
    assert [c.number for c in found][:2] == ["N1", "N2"]
    assert "相距约111米" in found[0].reasons
    assert not any(r.startswith("相距") for r in found[1].reasons)
    assert found[0].score > found[1].score
    # the same query without coordinates cannot tell the two apart by place
    plain = ix.candidates(geo_doc(None, "路灯坏了", None, days=0.1, address="南京南站北广场"))
    assert {c.number for c in plain[:2]} == {"N1", "N2"}
    assert plain[0].score == plain[1].score


def test_geo_neighbours_join_the_candidate_pool() -> None:
    # many orders with the same wording: the text shortlist alone would miss the nearby one
    ix = DuplicateIndex(Thresholds(min_score=0.0, text_floor=0.0))
    for i in range(300):
        ix.add(geo_doc(100 + i, "路面有坑", XINJIEKOU, days=-1 + i / 1000))
    ix.add(geo_doc(1, "路面有坑", NEAR_STATION, days=-1))
    found = ix.candidates(geo_doc(None, "路面有坑", STATION), limit=1)
    assert [c.number for c in found] == ["N1"]


def test_placeholder_coordinates_are_ignored() -> None:
    ix = DuplicateIndex(Thresholds(min_score=0.0, text_floor=0.0))
    for i in range(60):  # a geocoder's "unknown" point shared by most orders
        ix.add(geo_doc(100 + i, f"其他问题{i}号", STATION, days=-2))
    ix.add(geo_doc(1, "路面有坑", XINJIEKOU, days=-1))
    query = geo_doc(None, "路面有坑", STATION)
    found = ix.candidates(query)
    assert all(not any(r.startswith("相距") for r in c.reasons) for c in found)
    # once those orders are gone the point is a real place again
    for i in range(60):
        ix.remove(100 + i)
    ix.add(geo_doc(2, "路面有坑", NEAR_STATION, days=-1))
    assert "相距约111米" in ix.candidates(query)[0].reasons


def test_coordinates_are_validated() -> None:
    ix = DuplicateIndex()
    with pytest.raises(ValidationError, match="超出范围"):
        ix.add(geo_doc(1, "路面有坑", (95.0, 118.0)))
    with pytest.raises(ValidationError, match="必须是数字"):
        ix.add(doc(1, "路面有坑", latitude="北纬", longitude=118.0))
    ix.add(geo_doc(1, "路面有坑", (0.0, 0.0)))  # 0,0 means "not geocoded"
    assert ix.stats()["geo_cells"] == 0


def test_nearer_in_time_ranks_first() -> None:
    ix = DuplicateIndex()
    ix.add(doc(1, "出租车司机在南京南站拒载", days=-20))
    ix.add(doc(2, "出租车司机在南京南站拒载", days=-0.5))
    found = ix.candidates(doc(None, "出租车司机在南京南站拒载", days=0))  # type: ignore[arg-type]
    assert [c.number for c in found] == ["N2", "N1"]
    assert found[0].score > found[1].score >= found[0].score * 0.9
    flat = DuplicateIndex(Thresholds(w_time=0.0))
    flat.add(doc(1, "出租车司机在南京南站拒载", days=-20))
    flat.add(doc(2, "出租车司机在南京南站拒载", days=-0.5))
    same = flat.candidates(doc(None, "出租车司机在南京南站拒载", days=0))  # type: ignore[arg-type]
    assert same[0].score == same[1].score


def test_compact_keeps_places() -> None:
    ix = DuplicateIndex(Thresholds(min_score=0.0))
    ix.add(geo_doc(1, "路灯坏了没人修", NEAR_STATION))
    ix.add(geo_doc(2, "路灯坏了没人修", XINJIEKOU))
    ix.add(geo_doc(3, "路灯坏了没人修", STATION))
    ix.remove(3)
    ix.compact()
    found = ix.candidates(geo_doc(None, "路灯坏了", STATION, days=0.1))
    assert found[0].number == "N1" and "相距约111米" in found[0].reasons
    assert ix.stats()["slots"] == 2


def test_same_address_and_coordinates_but_other_issue_is_rejected() -> None:
    ix = DuplicateIndex()
    ix.add(geo_doc(1, "出租车司机在南京南站拒载，还骂人，态度恶劣，要求处理", STATION, address="南京南站"))
    other = geo_doc(None, "南京南站出租车排队区没有遮阳棚，夏天太晒", STATION, days=0.2, address="南京南站")
    assert ix.candidates(other) == []
    same = geo_doc(None, "南京南站出租车拒载，司机态度恶劣还骂人", NEAR_STATION, days=0.2, address="南京南站")
    found = ix.candidates(same)
    assert [c.number for c in found] == ["N1"] and "同一地点" in found[0].reasons


def test_wider_radius_set_after_indexing_still_finds_neighbours() -> None:
    # no shared words: only the place brings the order in
    ix = DuplicateIndex(Thresholds(geo_radius_m=50, min_score=0.0, text_floor=0.0))
    ix.add(geo_doc(1, "路面有坑", NEAR_STATION))
    query = geo_doc(None, "路灯坏了", STATION, days=0.1)
    assert ix.candidates(query) == []
    ix.thresholds = Thresholds(geo_radius_m=500, min_score=0.0, text_floor=0.0)
    found = ix.candidates(query)
    assert [c.number for c in found] == ["N1"] and "相距约111米" in found[0].reasons
