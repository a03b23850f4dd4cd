"""Text services on the real database (SQLite and PostgreSQL): full-text search backend, the
duplicate cache over real work orders, reviewer decisions, model versions and category choices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import peewee as pw
import pytest

from node import clock
from node.db import BaseModel
from node.errors import NotFound, PermissionDenied, ValidationError
from node.text import service
from node.text.classifier import TextClassifier, make_document
from node.text.hot import hot_topics_for_orders
from node.text.search import SearchBackend
from node.text.segment import search_tokens
from node.workflow import service as workflow
from tests.factories import actor, make_order


class TextNote(BaseModel):
    search_text = pw.TextField(default="")


@pytest.fixture
def installed(db: str) -> Iterator[None]:
    service.install()
    service._cache.reset()
    service._model_cache.clear()
    yield
    workflow.SEARCH_TOKENS.remove(search_tokens)
    workflow.ON_CHANGE.remove(service.on_order_change)
    service._cache.reset()
    service._model_cache.clear()


def test_search_backend_finds_two_character_words(db: str) -> None:
    TextNote.create_table()
    backend = SearchBackend("text_note")
    backend.ensure()
    backend.ensure()  # idempotent
    texts = ["出租车司机拒载，态度恶劣", "高速公路收费站ETC扣费两次", "公交车拒绝老人上车"]
    ids = [TextNote.create(search_text=search_tokens(t)).id for t in texts]
    assert [i for i, _ in backend.search("拒载")] == [ids[0]]
    assert [i for i, _ in backend.search("etc 收费站")] == [ids[1]]
    assert backend.search("出租车 收费站") == []
    TextNote.update(search_text=search_tokens("出租车绕路")).where(TextNote.id == ids[0]).execute()
    assert backend.search("拒载") == []
    assert [i for i, _ in backend.search("绕路")] == [ids[0]]
    TextNote.delete().where(TextNote.id == ids[0]).execute()
    assert backend.search("绕路") == []
    with pytest.raises(ValidationError):
        backend.search("  ")
    with pytest.raises(ValidationError):
        SearchBackend("notes; drop table x")


def test_duplicates_of_a_new_contact_come_from_real_orders(installed: None) -> None:
    first = make_order(content="南京南站出租车司机拒载，还骂人，态度恶劣", respondent_plate="苏A12345")
    make_order(content="中山路公交站台候车亭玻璃碎了", domain="04", sub_business="0401", respondent_plate="")
    assert first.search_text and "拒载" in first.search_text.split()
    agent = actor("agent")
    found = service.find_duplicates(
        agent,
        {
            "content": "出租车在南京南站拒载，司机骂人",
            "caller_phone": "13912345678",
            "region_code": "320102",
            "domain": "04",
            "sub_business": "0403",
        },
    )
    assert [c.number for c in found] == [first.number]
    assert "同一区域同一领域" in found[0].reasons
    # same place and domain, different matter: no candidate
    assert (
        service.find_duplicates(
            agent, {"content": "南京南站出租车候车区没有遮阳棚", "region_code": "320102", "domain": "04"}
        )
        == []
    )
    # the cache picks up an order created after it was loaded
    later = make_order(
        content="地铁3号线电梯坏了一周没人修", domain="04", sub_business="0402", respondent_plate=""
    )
    again = service.find_duplicates(
        agent, {"content": "地铁3号线的电梯坏了好几天", "domain": "04", "region_code": "320102"}
    )
    assert [c.number for c in again] == [later.number]
    # an existing order is compared with the others, never with itself
    assert service.find_duplicates(agent, later.number) == []
    with pytest.raises(ValidationError):
        service.find_duplicates(agent, {"content": ""})
    with pytest.raises(NotFound):
        service.find_duplicates(agent, "000000000000000000000")
    with pytest.raises(PermissionDenied):
        service.find_duplicates(actor("unit_staff"), {"content": "x"})


def test_duplicates_use_order_coordinates(installed: None) -> None:
    # the same complaint at two stations about 6 km apart, from different callers, no plate;
    # the new caller is 110 m from the first
    def order_at(i: int, lat: float, lng: float) -> Any:
        return make_order(
            content="出租车排队区路灯坏了，晚上很黑",
            caller_phone=f"1391234567{i}",
            respondent_plate="",
            latitude=lat,
            longitude=lng,
        )

    near, far = order_at(1, 31.9710, 118.7970), order_at(2, 32.0417, 118.7841)
    body = {"content": "出租车排队区的路灯坏了", "domain": "04", "region_code": "320102"}
    agent = actor("agent")
    found = service.find_duplicates(agent, {**body, "latitude": 31.9700, "longitude": "118.7970"})
    assert [c.number for c in found][:2] == [near.number, far.number]
    assert "相距约111米" in found[0].reasons
    assert not any(r.startswith("相距") for r in found[1].reasons)
    assert found[0].score > found[1].score
    # an existing order is compared by its stored coordinates (a third order 22 m from the first)
    third = order_at(3, 31.9712, 118.7970)
    again = service.find_duplicates(agent, near.number)
    assert [c.number for c in again][:2] == [third.number, far.number]
    assert "相距约22米" in again[0].reasons
    with pytest.raises(ValidationError, match="经纬度"):
        service.find_duplicates(agent, {**body, "latitude": "北纬32度", "longitude": 118.79})
    with pytest.raises(ValidationError, match="经纬度"):
        service.find_duplicates(agent, {**body, "latitude": 132.0, "longitude": 118.79})


def test_duplicate_decisions_measure_precision(installed: None) -> None:
    a, b, c = (make_order(content=f"出租车拒载第{i}次") for i in range(3))
    reviewer = actor("reviewer")
    service.record_duplicate_decision(reviewer, a.number, b.number, True, rank=1)
    service.record_duplicate_decision(reviewer, a.number, c.number, True, rank=2)
    service.record_duplicate_decision(reviewer, a.number, c.number, False, rank=2)  # changed mind
    figures = service.duplicate_precision()
    assert figures == {
        "decisions": 2,
        "confirmed": 1,
        "precision": 0.5,
        "top1_decisions": 1,
        "top1_precision": 1.0,
    }
    with pytest.raises(ValidationError):
        service.record_duplicate_decision(reviewer, a.number, a.number, True)
    with pytest.raises(ValidationError):
        service.record_duplicate_decision(reviewer, a.number, b.number, "yes")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        service.record_duplicate_decision(reviewer, a.number, "999", True)


def test_suggestions_rules_then_model_versions(installed: None) -> None:
    rules = service.suggest_categories("", "出租车司机拒载，要求处理")
    assert rules["domain"][0]["code"] == "04" and rules["domain"][0]["source"].startswith("关键词规则")
    assert rules["sub_business"][0]["code"] == "0403" and rules["sub_business"][0]["sub"] == "0403"
    assert rules["sub_business"][0]["name"] == "出租汽车"
    assert rules["sub_business"][0]["label"] == "城市客运 › 出租汽车"
    assert "出租车" in rules["sub_business"][0]["words"]
    assert (
        rules["business_type"][0]["name"] == "投诉举报" and "要求处理" in rules["business_type"][0]["words"]
    )
    texts = ["出租车拒载", "的士绕路", "打车被拒", "船舶漏油", "渔船遇险", "船员证"]
    clf = TextClassifier().fit([make_document("", t) for t in texts], ["0403"] * 3 + ["0602"] * 3)
    v1 = service.save_model("sub_business", clf, metrics={"macro_f1": 1.0}, source="测试", samples=6)
    v2 = service.save_model("sub_business", clf, metrics=None, source="测试", samples=6)
    assert (v1.version, v2.version) == (1, 2)
    model = service.suggest_categories("", "渔船遇险求救")
    leaf, domain = model["sub_business"][0], model["domain"][0]
    assert leaf["code"] == "0602" and leaf["model_version"] == 2 and leaf["domain"] == "06"
    assert domain["code"] == "06" and domain["name"] == "海事" and leaf["words"]
    assert model["business_type"][0]["source"].startswith("关键词规则")  # no type model: rules
    admin = actor("admin")
    assert service.activate_model(admin, "sub_business", 1).active
    assert [(m.version, m.active) for m in service.list_models("sub_business")] == [(2, False), (1, True)]
    assert service.suggest_categories("", "渔船遇险")["sub_business"][0]["model_version"] == 1
    assert service.activate_model(admin, "sub_business", None) is None  # back to the keyword rules
    assert service.suggest_categories("", "渔船遇险")["sub_business"][0]["model_version"] is None
    with pytest.raises(NotFound):
        service.activate_model(admin, "sub_business", 9)
    with pytest.raises(PermissionDenied):
        service.activate_model(actor("agent"), "sub_business", 1)
    with pytest.raises(ValidationError):
        service.suggest_categories("", " ")
    with pytest.raises(ValidationError):
        service.save_model("colour", clf, metrics=None, source="", samples=0)


def test_category_choice_is_recorded(installed: None) -> None:
    order = make_order()
    agent = actor("agent")
    suggestion = service.suggest_categories(order.title, order.content)["domain"][0]
    service.record_category_choice(agent, order.number, "domain", "04", suggestion)
    service.record_category_choice(agent, order.number, "sub_business", "0401", {"code": "0403"})
    assert service.suggestion_hit_rate("domain") == {
        "kind": "domain",
        "choices": 1,
        "hits": 1,
        "hit_rate": 1.0,
    }
    assert service.suggestion_hit_rate("sub_business")["hit_rate"] == 0.0
    service.record_category_choice(agent, order.number, "sub_business", "10")  # a domain without subs
    with pytest.raises(ValidationError):
        service.record_category_choice(agent, order.number, "domain", "99")
    with pytest.raises(ValidationError):
        service.record_category_choice(agent, order.number, "domain", "00")  # not an order's domain
    with pytest.raises(ValidationError):
        service.record_category_choice(agent, order.number, "colour", "04")


def test_training_needs_history(installed: None) -> None:
    make_order()
    outcome = service.train_from_orders("sub_business")
    assert outcome.row is None and not outcome.activated and "不足50条" in outcome.reason
    assert service.retrain_job(clock.now()) == {
        "business_type": {"version": None, "activated": False},
        "sub_business": {"version": None, "activated": False},
    }
    with pytest.raises(ValidationError):
        service.train_from_orders("domain")


def test_hot_topics_over_orders(installed: None) -> None:
    for i in range(4):
        make_order(content=f"暴雨导致G42高速封闭，车辆滞留服务区{i}", domain="01", sub_business="0105")
    now = clock.now()
    result = hot_topics_for_orders(now - dt.timedelta(days=1), now + dt.timedelta(hours=1), domain="01")
    assert result.volume == 4
    assert "滞留" in [t.term for t in result.terms]
    with pytest.raises(ValidationError):
        hot_topics_for_orders(now, now - dt.timedelta(days=1))
    with pytest.raises(ValidationError):
        hot_topics_for_orders(now - dt.timedelta(days=1), now, region="32A")
