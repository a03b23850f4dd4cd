"""Staff screens over HTTP: login and navigation, the workstation's outcomes, queues, order detail
actions, the unit desk, and the security rules (CSRF, escaping, unit isolation, throttling, timeout)."""

from __future__ import annotations

import datetime as dt

import pytest

from node import clock
from node.auth.models import LoginAttempt
from node.intake.models import Contact
from node.workflow import service
from node.workflow.models import OrderEvent, WorkOrder
from tests import factories
from tests.factories import make_order, make_unit
from tests.web.conftest import HTML, csrf_of, post_login

INTAKE = {
    "caller_phone": "13811112222",
    "caller_name": "王先生",
    "channel": "01",
    "business_type": "1",
    "domain": "04",
    "sub_business": "0403",
    "region_code": "320102",
    "respondent_plate": "苏A99999",
    "content": "出租车司机拒载，要求处理。",
}


def counts() -> tuple[int, int, int]:
    return WorkOrder.select().count(), Contact.select().count(), OrderEvent.select().count()


# ---- login, navigation, timeout ---------------------------------------------------------------


def test_login_lands_on_the_role_home_and_shows_only_allowed_screens(client, web_login):
    web_login("agent")
    page = client.get("/", headers=HTML)
    assert page.status_code == 302 and page.headers["Location"].endswith("/workstation")
    html = client.get("/workstation").get_data(as_text=True)
    assert "坐席工作台" in html and "工单队列" in html and "承办单位工作台" not in html
    assert client.get("/unit", headers=HTML).status_code == 403


def test_unit_staff_land_on_the_unit_desk_and_cannot_use_the_workstation(client, web_login):
    web_login("unit_staff")
    assert client.get("/").headers["Location"].endswith("/unit")
    assert client.get("/workstation", headers=HTML).status_code == 403
    assert client.get("/queues", headers=HTML).status_code == 403


def test_pages_need_a_session_and_return_to_the_page_after_login(client, db):
    resp = client.get("/queues?queue=overdue", headers=HTML)
    assert resp.status_code == 302 and "/login?next=/queues?queue%3Doverdue" in resp.headers["Location"]
    user = factories.make_user("dispatcher")
    resp = post_login(client, user.username, next="/queues?queue=overdue")
    assert resp.headers["Location"] == "/queues?queue=overdue"
    bad_next = post_login(client, user.username, next="//evil.example/x")
    assert not bad_next.headers["Location"].startswith("//"), "only same-site paths are followed"


def test_session_times_out_with_a_clear_message(client, web_login):
    with clock.frozen(dt.datetime(2026, 3, 2, 9, 0)) as c:
        web_login("agent")
        c.travel(minutes=31)  # node default: 30 minutes of inactivity, checked on the server
        resp = client.get("/workstation", headers=HTML)
    assert resp.status_code == 302 and "expired=1" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "登录已超时，请重新登录" in page
    htmx = client.get("/workstation/caller?caller_phone=13800000000", headers={"HX-Request": "true"})
    assert htmx.headers.get("HX-Redirect", "").startswith("/login")


def test_login_is_throttled_after_repeated_failures(client, db):
    user = factories.make_user("agent")
    token = csrf_of(client.get("/login").get_data(as_text=True))
    for _ in range(5):
        resp = client.post(
            "/login", data={"username": user.username, "password": "wrong-pass", "csrf_token": token}
        )
        assert resp.status_code == 401 and "用户名或密码错误" in resp.get_data(as_text=True)
    resp = client.post(
        "/login", data={"username": user.username, "password": factories.PASSWORD, "csrf_token": token}
    )
    assert resp.status_code == 429 and "登录失败次数过多" in resp.get_data(as_text=True)
    assert LoginAttempt.select().where(LoginAttempt.username == user.username).count() == 5


def test_login_form_refuses_missing_fields(client, db):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"username": "", "password": "", "csrf_token": token})
    assert resp.status_code == 422 and "请输入用户名和密码" in resp.get_data(as_text=True)


# ---- CSRF on every form post --------------------------------------------------------------------


def _form_posts(app) -> set[str]:
    return {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or set()) and rule.endpoint.split(".")[0] in ("web", "portal")
    }


def test_every_form_post_requires_the_csrf_token(app, client, web_login):
    unit = make_unit()
    order = make_order("pending_dispatch", unit=unit)
    _, token = web_login("shift_leader")
    before = counts()
    posts = {
        "web.login": "/login",
        "web.logout": "/logout",
        "web.workstation_submit": "/workstation",
        "web.workstation_suggest": "/workstation/suggest",
        "web.workstation_duplicates": "/workstation/duplicates",
        "web.order_action": f"/orders/{order.number}/act/note",
        "web.order_phone": f"/orders/{order.number}/phone",
        "portal.submit": "/public/submit",
        "portal.query": "/public/query",
        "portal.rate": "/public/rate",
    }
    assert _form_posts(app) == set(posts), "a new form POST route must be added to this test"
    bodies = {
        "/workstation": {**INTAKE, "outcome": "order"},
        "/workstation/suggest": {"content": "出租车拒载"},
        f"/orders/{order.number}/act/note": {"text": "内部备注"},
    }
    for path in posts.values():
        for sent in (None, "forged-token"):
            data = dict(bodies.get(path, {}))
            if sent:
                data["csrf_token"] = sent
            resp = client.post(path, data=data, headers=HTML)
            assert resp.status_code == 403, (path, resp.status_code)
            assert "CSRF" in resp.get_data(as_text=True)
    assert counts() == before, "refused posts write nothing"
    ok = client.post(f"/orders/{order.number}/act/note", data={"text": "内部备注", "csrf_token": token})
    assert ok.status_code == 302


# ---- workstation ------------------------------------------------------------------------------------


def test_workstation_creates_contact_and_order_in_one_go(client, web_login):
    _, token = web_login("agent")
    resp = client.post(
        "/workstation",
        data={**INTAKE, "outcome": "order", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    html = resp.get_data(as_text=True)
    assert (
        resp.status_code == 200
        and "已生成工单" in html
        and 'id="intake-area"' in html
        and "<html" not in html
    )
    order = WorkOrder.select().order_by(WorkOrder.id.desc()).first()
    assert order.state == "pending_review" and order.respondent_plate == "苏A99999"
    contact = Contact.get_by_id(order.contact_id)
    assert contact.outcome == "order_created" and contact.order_number == order.number
    assert order.query_code in html


@pytest.mark.parametrize(
    ("outcome", "extra", "stored"),
    [
        (
            "transfer",
            {"transfer_target": "12306 铁路客户服务中心", "note_transfer": "火车票退票"},
            "transferred",
        ),
        ("invalid", {"note_invalid": "无声电话"}, "invalid"),
    ],
)
def test_every_outcome_leaves_an_intake_record(client, web_login, outcome, extra, stored):
    _, token = web_login("agent")
    orders_before = WorkOrder.select().count()
    resp = client.post(
        "/workstation",
        data={
            "caller_phone": "13900001111",
            "content": "来电",
            "outcome": outcome,
            "csrf_token": token,
            **extra,
        },
    )
    assert resp.status_code == 200
    contact = Contact.select().order_by(Contact.id.desc()).first()
    assert contact.outcome == stored and contact.caller_phone_masked == "*******1111"
    assert contact.outcome_note == next(iter(v for k, v in extra.items() if k.startswith("note")))
    assert WorkOrder.select().count() == orders_before


def test_link_as_duplicate_records_the_contact_on_the_master(client, web_login):
    master = make_order("pending_dispatch")
    duplicate = make_order("accepted")
    service.perform(factories.actor("reviewer"), duplicate.number, "merge", {"master": master.number})
    _, token = web_login("agent")
    resp = client.post(
        "/workstation",
        data={**INTAKE, "outcome": "link", "order_number": duplicate.number, "csrf_token": token},
    )
    assert "已关联到已有工单" in resp.get_data(as_text=True)
    contact = Contact.select().order_by(Contact.id.desc()).first()
    assert contact.outcome == "linked" and contact.order_number == master.number, "lands on the root master"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"outcome": ""}, "请选择受理结果"),
        ({"outcome": "order", "domain": "", "sub_business": ""}, "须选择业务领域"),
        ({"outcome": "answer", "answer": ""}, "须填写答复内容"),
        ({"outcome": "transfer", "transfer_target": ""}, "转接去向"),
        ({"outcome": "order", "caller_phone": "abc"}, "电话号码格式不正确"),
        ({"outcome": "order", "region_code": "999999"}, "未知的行政区划代码"),
        ({"outcome": "order", "content": ""}, "content"),
        ({"outcome": "order", "sub_business": "0101"}, "不属于所选业务领域"),
    ],
)
def test_workstation_refuses_bad_input_keeps_what_was_typed_and_writes_nothing(
    client, web_login, data, message
):
    _, token = web_login("agent")
    before = counts()
    resp = client.post("/workstation", data={**INTAKE, **data, "csrf_token": token})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and message in html
    assert 'value="王先生"' in html, "the form keeps the agent's input"
    assert counts() == before


def test_caller_lookup_shows_earlier_orders_and_contacts(client, web_login):
    make_order("pending_dispatch", caller_phone="13822223333", title="上次投诉")
    _, _ = web_login("agent")
    html = client.get("/workstation/caller?caller_phone=13822223333").get_data(as_text=True)
    assert "上次投诉" in html and "1 件工单" in html
    assert "首次来电" in client.get("/workstation/caller?caller_phone=13700000000").get_data(as_text=True)
    assert "输入来电号码" in client.get("/workstation/caller?caller_phone=<x>").get_data(as_text=True)


def test_duplicates_panel_ranks_same_plate_and_similar_text(client, web_login):
    near = make_order(
        "pending_dispatch", respondent_plate="苏A77777", content="出租车司机在新街口拒载乘客，态度恶劣。"
    )
    make_order(
        "pending_dispatch",
        respondent_plate="苏B00001",
        domain="01",
        sub_business="0107",
        region_code="320115",
        content="国道路面坑洼需要修补。",
    )
    _, csrf = web_login("agent")
    html = client.post(
        "/workstation/duplicates",
        data={
            "respondent_plate": "苏A77777",
            "content": "新街口出租车拒载，司机态度很差" * 400,  # ~6 k characters: too long for a URL
            "domain": "04",
            "region_code": "320102",
            "csrf_token": csrf,
        },
    ).get_data(as_text=True)
    assert near.number in html and "苏A77777" in html and "关联为重复" in html
    assert "国道路面坑洼" not in html
    # before any content is typed, the same caller is enough to show earlier orders
    caller = make_order("pending_dispatch", caller_phone="13677778888", content="地铁站电梯停运")
    html = client.post(
        "/workstation/duplicates", data={"caller_phone": "13677778888", "csrf_token": csrf}
    ).get_data(as_text=True)
    assert caller.number in html and "同一来电人" in html
    empty = client.post("/workstation/duplicates", data={"csrf_token": csrf})
    assert "暂无疑似重复" in empty.get_data(as_text=True)
    assert client.post("/workstation/duplicates", data={"caller_phone": "1"}).status_code == 403  # no CSRF


# ---- queues and detail -------------------------------------------------------------------------------


def test_queues_filter_search_and_paginate(client, web_login):
    unit = make_unit()
    numbers = [
        make_order("pending_dispatch", unit=unit, content=f"公交车甩站第{i}次").number for i in range(23)
    ]
    make_order("pending_dispatch", unit=unit, content="地铁末班车提前", caller_phone="13566667777")
    web_login("dispatcher")
    html = client.get("/queues?queue=to_dispatch").get_data(as_text=True)
    assert "待分派" in html and "共 <b>24</b> 件" in html and 'class="pager"' in html
    page2 = client.get("/queues?queue=to_dispatch&page=2").get_data(as_text=True)
    assert sum(n in page2 for n in numbers) == 4  # the newest (metro) order is on page 1
    # a dispatcher may not search by caller number (no pii.view): the digits are plain text
    assert "地铁末班车提前" not in client.get("/queues?q=13566667777").get_data(as_text=True)
    by_word = client.get("/queues", query_string={"q": "地铁"}).get_data(as_text=True)
    assert "地铁末班车提前" in by_word and "公交车甩站" not in by_word
    assert numbers[0] in client.get(f"/queues?q={numbers[0]}").get_data(as_text=True)
    partial = client.get(
        "/queues?queue=to_dispatch&q=地铁", headers={"HX-Request": "true", "HX-Target": "queue-table"}
    )
    assert partial.get_data(as_text=True).startswith('<div id="queue-table">')
    assert client.get("/queues?queue=nope", headers=HTML).status_code == 422
    assert client.get("/queues?from=2026-13-01", headers=HTML).status_code == 422


def test_detail_offers_exactly_the_available_actions(client, web_login):
    order = make_order("pending_dispatch")
    user, _ = web_login("dispatcher")
    from node.auth import service as auth

    html = client.get(f"/orders/{order.number}").get_data(as_text=True)
    expected = {t.action for t in service.available_actions(auth.actor_for(user), order)} - {
        "decide_extension"
    }
    import re

    shown = set(re.findall(r'data-action="([a-z_]+)"', html))
    assert shown == expected and "dispatch" in shown and "sign" not in shown
    for action in shown:
        assert f'id="dlg-{action}"' in html


def test_action_dialog_redisplays_validation_errors(client, web_login):
    order = make_order("pending_dispatch")
    _, token = web_login("dispatcher")
    before = OrderEvent.select().count()
    resp = client.post(f"/orders/{order.number}/act/dispatch", data={"csrf_token": token, "note": "急"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "lead_unit" in html and "data-open" in html
    assert OrderEvent.select().count() == before
    wrong_state = client.post(f"/orders/{order.number}/act/close", data={"csrf_token": token})
    assert wrong_state.status_code == 409 and "不能执行" in wrong_state.get_data(as_text=True)


def test_order_content_is_escaped(client, web_login):
    order = make_order(
        "pending_review",
        content='<script>alert("x")</script><img src=x onerror=alert(1)>',
        title="<b>标题</b>",
    )
    web_login("reviewer")
    html = client.get(f"/orders/{order.number}").get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>标题</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    queue = client.get("/queues?queue=to_review").get_data(as_text=True)
    assert "<b>标题</b>" not in queue and "&lt;b&gt;标题&lt;/b&gt;" in queue


def test_unit_user_cannot_open_or_act_on_another_units_order(client, web_login):
    mine, theirs = make_unit(), make_unit()
    other = make_order("dispatched", unit=theirs)
    own = make_order("dispatched", unit=mine)
    _, token = web_login("unit_staff", mine)
    assert client.get(f"/orders/{own.number}").status_code == 200
    resp = client.get(f"/orders/{other.number}", headers=HTML)
    assert resp.status_code == 404 and "工单不存在或无权查看" in resp.get_data(as_text=True)
    assert other.number not in resp.get_data(as_text=True).split("无权查看")[0]
    act = client.post(f"/orders/{other.number}/act/sign", data={"csrf_token": token}, headers=HTML)
    assert act.status_code == 404 and WorkOrder.get_by_id(other.id).state == "dispatched"
    desk = client.get("/unit").get_data(as_text=True)
    assert own.number in desk and other.number not in desk


def test_unit_desk_signs_and_replies(client, web_login):
    unit = make_unit()
    order = make_order("dispatched", unit=unit)
    _, token = web_login("unit_staff", unit)
    desk = client.get("/unit").get_data(as_text=True)
    assert order.number in desk and "待签收" in desk
    resp = client.post(
        f"/orders/{order.number}/act/sign", data={"csrf_token": token, "next": "/unit?tab=inbox"}
    )
    assert resp.status_code == 302 and resp.headers["Location"] == "/unit?tab=inbox"
    reply = {"basic": "属实", "process": "已处理", "basis": "有关规定", "csrf_token": token}
    resp = client.post(f"/orders/{order.number}/act/reply", data=reply)
    assert resp.status_code == 302
    assert WorkOrder.get_by_id(order.id).state == "replied"
    ext = client.post(
        f"/orders/{order.number}/act/request_extension",
        data={"days": "3", "reason": "x", "csrf_token": token},
        headers=HTML,
    )
    assert ext.status_code == 409, "no extension once replied"


def test_tab_counts_match_the_engine_queues(client, web_login):
    from node.auth import service as auth
    from node.web import views

    unit = make_unit()
    for state in (
        "accepted",
        "pending_review",
        "pending_dispatch",
        "pending_dispatch",
        "dispatched",
        "replied",
    ):
        make_order(state, unit=unit)
    user, _ = web_login("shift_leader")
    actor = auth.actor_for(user)
    tabs = views.queue_tabs(actor)
    counts = service.count_queues(actor, tabs)
    assert counts == {t: service.list_orders(actor, service.OrderFilter(queue=t), 1, 1)[1] for t in tabs}
    assert counts["to_dispatch"] >= 2 and counts["replied"] >= 1
    html = client.get("/queues").get_data(as_text=True)
    assert f'待分派<span class="count">{counts["to_dispatch"]}</span>' in html


def test_split_merge_callback_and_extension_dialogs_post_real_changes(client, web_login):
    unit = make_unit()
    _, token = web_login("shift_leader")
    parent = make_order("pending_dispatch", unit=unit)
    split = {
        "csrf_token": token,
        "parts-0-business_type": "1",
        "parts-0-domain": "04",
        "parts-0-sub_business": "0403",
        "parts-0-content": "出租车拒载部分",
        "parts-1-business_type": "3",
        "parts-1-domain": "04",
        "parts-1-sub_business": "0401",
        "parts-1-content": "建议增加公交线路部分",
        "parts-2-content": "",
        "note": "一个来电两个问题",
    }
    assert client.post(f"/orders/{parent.number}/act/split", data=split).status_code == 302
    children = list(WorkOrder.select().where(WorkOrder.parent == parent.id).order_by(WorkOrder.id))
    assert [c.business_type for c in children] == ["1", "3"] and WorkOrder.get_by_id(
        parent.id
    ).state == "split"
    one_part = {"csrf_token": token, "parts-0-business_type": "1", "parts-0-content": "只有一项"}
    other = make_order("pending_dispatch", unit=unit)
    assert client.post(f"/orders/{other.number}/act/split", data=one_part).status_code == 422

    dup = make_order("pending_review")
    resp = client.post(
        f"/orders/{dup.number}/act/merge", data={"csrf_token": token, "master": children[0].number}
    )
    assert resp.status_code == 302 and WorkOrder.get_by_id(dup.id).master_id == children[0].id

    closed = make_order("closed", unit=unit)
    cb = {
        "csrf_token": token,
        "method": "phone",
        "reached": "true",
        "result_satisfaction": "3",
        "service_satisfaction": "1",
        "note": "不满意处理速度",
    }
    assert client.post(f"/orders/{closed.number}/act/callback", data=cb).status_code == 302
    row = WorkOrder.get_by_id(closed.id)
    assert (row.state, row.callback_result_satisfaction, row.callback_service_satisfaction) == (
        "visited",
        "3",
        "1",
    )
    missing = make_order("closed", unit=unit)
    resp = client.post(f"/orders/{missing.number}/act/callback", data={**cb, "service_satisfaction": ""})
    assert resp.status_code == 422 and "满意度" in resp.get_data(as_text=True)

    handling = make_order("handling", unit=unit)
    staff = factories.actor("unit_staff", unit)
    service.perform(staff, handling.number, "request_extension", {"days": 5, "reason": "需现场勘查"})
    page = client.get(f"/orders/{handling.number}").get_data(as_text=True)
    assert 'data-action="decide_extension"' in page and "需现场勘查" in page
    import re

    ext_id = re.search(r'name="extension_id" value="(\d+)"', page).group(1)
    before = WorkOrder.get_by_id(handling.id).due_at
    resp = client.post(
        f"/orders/{handling.number}/act/decide_extension",
        data={"csrf_token": token, "extension_id": ext_id, "approve": "true", "note": "同意"},
    )
    assert resp.status_code == 302 and WorkOrder.get_by_id(handling.id).due_at > before
