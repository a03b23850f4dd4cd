"""The workstation's suggestion panel (自动归类建议) over the Flask client, on both databases: the
panel shows category, confidence and deciding words, and the intake stores the agent's final
categories next to what the panel showed (an order confirmed for training)."""

from __future__ import annotations

from typing import Any

from node.text import lexicon, service
from node.text.classifier import make_document
from node.text.models import CategoryChoice
from node.workflow.models import WorkOrder
from tests.web.conftest import HTML


def test_the_workstation_stores_the_agents_choice_next_to_the_suggestion(client: Any, web_login: Any) -> None:
    _, token = web_login("agent")
    panel = client.post(
        "/workstation/suggest",
        data={"content": "出租车司机拒载，要求处理", "csrf_token": token},
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert "城市客运 › 出租汽车" in panel and "拒载" in panel and "data-accept-suggestion" in panel
    assert "录入诉求内容后" in client.post("/workstation/suggest", data={"csrf_token": token}).get_data(
        as_text=True
    )
    form = {
        "caller_phone": "13811112222",
        "channel": "01",
        "business_type": "1",
        "domain": "04",
        "sub_business": "0401",  # the agent chose otherwise than suggested
        "region_code": "320102",
        "content": "出租车司机拒载，要求处理",
        "outcome": "order",
        "csrf_token": token,
        "sg_business_type": "1",
        "sg_business_type_conf": "0.97",
        "sg_domain": "04",
        "sg_domain_conf": "0.99",
        "sg_sub_business": "0403",
        "sg_sub_business_conf": "0.95",
        "sg_sub_business_model": "junk",
    }
    assert client.post("/workstation", data=form, headers=HTML).status_code == 200
    order = WorkOrder.select().order_by(WorkOrder.id.desc()).first()
    choices = {c.kind: c for c in CategoryChoice.select().where(CategoryChoice.order_number == order.number)}
    assert {k: (c.suggested, c.chosen) for k, c in choices.items()} == {
        "business_type": ("1", "1"),
        "domain": ("04", "04"),
        "sub_business": ("0403", "0401"),
    }
    assert choices["sub_business"].confidence == 0.95 and choices["sub_business"].model_version is None
    assert service.suggestion_hit_rate("sub_business")["hit_rate"] == 0.0
    data = service.training_data("sub_business")
    assert make_document(order.title, order.content) in data.docs  # a confirmed order


def test_the_administrators_lexicon_screen(client: Any, web_login: Any) -> None:
    _, token = web_login("admin")
    page = client.get("/text/lexicon?q=拒载&try=的哥不打表", headers=HTML)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "自动归类：词表与模型" in html and "关键词规则（词表第" in html
    assert "城市客运 › 出租汽车" in html and "不打表" in html  # the trial and the filtered entries
    resp = client.post(
        "/text/lexicon", data={"term": "叮叮车", "target": "0401", "weight": "4", "csrf_token": token}
    )
    assert resp.status_code == 302
    assert "已新增词条" in client.get("/text/lexicon", headers=HTML).get_data(as_text=True)
    entry = lexicon.LexiconEntry.get(lexicon.LexiconEntry.term == "叮叮车")
    for data, expect in [
        ({"action": "weight", "weight": "abc"}, "权重必须是数字"),
        ({"action": "weight", "weight": "2"}, "已修改权重"),
        ({"action": "disable"}, "已停用"),
        ({"action": "bogus"}, "未知的操作"),
        ({"action": "delete"}, "已删除"),
    ]:
        client.post(f"/text/lexicon/{entry.id}", data={**data, "csrf_token": token})
        assert expect in client.get("/text/lexicon", headers=HTML).get_data(as_text=True), data
    assert lexicon.LexiconEntry.get_or_none(lexicon.LexiconEntry.term == "叮叮车") is None
    client.post("/text/models/sub_business", data={"action": "train", "csrf_token": token})
    assert "不足50条" in client.get("/text/lexicon", headers=HTML).get_data(as_text=True)
    # a forged form writes nothing
    resp = client.post("/text/lexicon", data={"term": "伪造", "target": "0401", "weight": "4"}, headers=HTML)
    assert (
        resp.status_code == 403
        and lexicon.LexiconEntry.get_or_none(lexicon.LexiconEntry.term == "伪造") is None
    )


def test_other_roles_cannot_open_the_lexicon_screen(client: Any, web_login: Any) -> None:
    _, token = web_login("agent")
    assert client.get("/text/lexicon", headers=HTML).status_code == 403
    resp = client.post(
        "/text/lexicon", data={"term": "叮叮车", "target": "0401", "weight": "4", "csrf_token": token}
    )
    assert resp.status_code == 403
    assert (
        "自动归类" not in client.get("/workstation", headers=HTML).get_data(as_text=True).split("<main>")[0]
    )
