"""WeChat template messages: queued with the business change for followers bound to an order (by
writing in over WeChat, or by sending the order's number and query code), 匿名 and 保密 as for SMS;
sent by wechatpy's client to a real HTTP server process speaking the platform's API (token endpoint,
/cgi-bin/message/template/send): the posted JSON, a token refreshed on 40001/42001, errors retried
with backoff, then failed and visible on the order's 跟踪督办 screen; "1/2/3" replies rate the order
(source wechat) once."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from node import clock
from node.followup.models import Dissatisfaction, Rating
from node.outbox import service as outbox
from node.outbox.models import CitizenMessage, InboundMessage, WechatBinding
from node.outbox.wechat_send import NodeWeChatClient
from node.workflow.models import WorkOrder
from tests import factories
from tests.outbox.conftest import TEMPLATES, WxApi
from tests.web.conftest import web_login  # noqa: F401  (the sign-in fixture of the screen tests)

OPENID = "oWX_citizen_0001"


def _wechat(order: WorkOrder) -> list[CitizenMessage]:
    return [m for m in outbox.sms_log(order) if m.channel == "wechat"]


def _from_wechat(state: str, openid: str = OPENID, **kw: Any) -> WorkOrder:
    """An order made from a citizen's WeChat message (the agent creates it from the intake record)."""
    row = outbox.handle_inbound("wechat", openid, "地铁2号线扶梯坏了一周没人修", f"wx:{openid}:{state}")
    assert row.outcome == "intake"
    return factories.make_order(state, contact_id=row.contact_id, channel="03", caller_phone="", **kw)


def _run(wx: WxApi, client: NodeWeChatClient | None = None, **kw: Any) -> dict[str, int]:
    cfg = wx.config(**kw)
    return outbox.run_wechat(clock.now(), client or NodeWeChatClient(cfg), cfg)


def test_followers_get_each_progress_event(db: str) -> None:
    order = _from_wechat("closed")
    events = [(m.event, m.channel) for m in _wechat(order)]
    assert events == [("receipt", "wechat"), ("closure", "wechat"), ("rating_invite", "wechat")]
    receipt, closure, invite = (json.loads(m.body) for m in _wechat(order))
    assert receipt["keyword1"]["value"] == order.number and receipt["keyword2"]["value"] == order.query_code
    assert closure["keyword2"]["value"] == "办理结果：经查属实"
    assert "回复1非常满意、2满意、3不满意" in invite["keyword2"]["value"]
    assert OPENID not in _wechat(order)[0].to_cipher and _wechat(order)[0].to_masked == "微信 oWX_ci…"
    assert outbox.enqueue_wechat(order, "closure")[0].id == _wechat(order)[1].id  # once per round
    # 保密: no result text; 匿名: nothing at all
    secret = _from_wechat("closed", "oWX_secret", confidential=True)
    assert "经查属实" not in _wechat(secret)[1].body and "网站查询" in _wechat(secret)[1].body
    assert _wechat(_from_wechat("closed", "oWX_anon", anonymous=True)) == []


def test_binding_by_number_and_query_code(db: str) -> None:
    order = factories.make_order("accepted", caller_phone="13900005555")
    assert _wechat(order) == []
    bad_code = "000000" if order.query_code != "000000" else "111111"  # never the order's own
    wrong = outbox.handle_inbound("wechat", "oWX_binder", f"{order.number} {bad_code}", "wx:b1")
    assert wrong.outcome == "bind_failed" and "查询码不正确" in outbox.reply_text(wrong)
    row = outbox.handle_inbound("wechat", "oWX_binder", f"绑定 {order.number} {order.query_code}", "wx:b2")
    assert row.outcome == "bound" and row.order_number == order.number
    assert "已关联工单" in outbox.reply_text(row)
    assert WechatBinding.select().where(WechatBinding.order == order).count() == 1
    outbox.handle_inbound("wechat", "oWX_binder", f"{order.number}，{order.query_code}", "wx:b3")
    assert WechatBinding.select().where(WechatBinding.order == order).count() == 1  # bound once
    assert Rating.select().count() == 0 and InboundMessage.select().count() == 3
    # from now on the follower is told: an approved extension, the closure and the invitation
    unit = factories.make_unit()
    staff = factories.actor("unit_staff", unit)
    factories.walk(
        order,
        "closed",
        lambda role: staff if role == "unit" else factories.actor(role),
        unit.code,
        factories.PATH_BODIES,
    )
    assert [m.event for m in _wechat(order)] == ["closure", "rating_invite"]


def test_template_send_posts_the_documented_json(db: str, wxapi: WxApi) -> None:
    order = _from_wechat("closed")
    assert _run(wxapi) == {"sent": 3, "failed": 0}
    token_calls = [r for r in wxapi.requests() if r["path"] == "/cgi-bin/token"]
    assert token_calls == [
        {
            "path": "/cgi-bin/token",
            "query": {"grant_type": "client_credential", "appid": wxapi.appid, "secret": wxapi.secret},
        }
    ]
    sent = wxapi.sent()
    assert [s["template_id"] for s in sent] == [
        TEMPLATES["receipt"],
        TEMPLATES["closure"],
        TEMPLATES["rating_invite"],
    ]
    first = sent[0]
    assert first["touser"] == OPENID and first["url"] == "https://12328.example.cn/public/query"
    assert first["data"]["keyword1"] == {"value": order.number}
    assert first["data"]["keyword2"] == {"value": order.query_code}
    rows = _wechat(order)
    assert [s["client_msg_id"] for s in sent] == [f"12328-{m.id}" for m in rows]
    assert all(
        m.state == "sent" and m.provider_ref == str(s["msgid"]) for m, s in zip(rows, sent, strict=True)
    )
    sends = [r for r in wxapi.requests() if r["path"].endswith("/send")]
    assert {r["query"]["access_token"] for r in sends} == {wxapi.tokens()[0]["token"]}  # one token, cached
    # SMS rows are left to the SMS sender
    assert _run(wxapi) == {"sent": 0, "failed": 0}


@pytest.mark.parametrize("expiry", ["expired", "replaced"])
def test_token_refreshed_on_42001_and_40001_then_sent(db: str, wxapi: WxApi, expiry: str) -> None:
    cfg = wxapi.config()
    client = NodeWeChatClient(cfg)
    first = _from_wechat("accepted")
    assert outbox.run_wechat(clock.now(), client, cfg)["sent"] == 1
    if expiry == "expired":
        wxapi.expire_token()  # the platform answers 42001
    else:
        NodeWeChatClient(cfg).fetch_access_token()  # fetched elsewhere: ours is no longer the latest (40001)
    second = _from_wechat("accepted", "oWX_second")
    assert outbox.run_wechat(clock.now(), client, cfg) == {"sent": 1, "failed": 0}
    assert _wechat(second)[0].state == "sent" and _wechat(first)[0].state == "sent"
    sends = [r for r in wxapi.requests() if r["path"].endswith("/send")]
    latest = wxapi.tokens()[-1]["token"]
    assert sends[-1]["query"]["access_token"] == latest and sends[-2]["query"]["access_token"] != latest
    assert [s["touser"] for s in wxapi.sent()] == [OPENID, "oWX_second"]


def test_errors_back_off_then_fail_and_show_on_the_order(
    db: str,
    wxapi: WxApi,
    client: Any,
    web_login: Any,  # noqa: F811
) -> None:
    order = _from_wechat("accepted")
    (msg,) = _wechat(order)
    t0 = clock.now().replace(microsecond=0) + dt.timedelta(minutes=1)
    wxapi.fail_next(45009, count=100, errmsg="reach max api daily quota limit")
    cfg = wxapi.config()
    wx_client = NodeWeChatClient(cfg)
    at = t0
    for attempt in range(1, 9):
        with clock.frozen(at):
            assert outbox.run_wechat(at, wx_client, cfg) == {"sent": 0, "failed": 1}
        row = CitizenMessage.get_by_id(msg.id)
        assert row.attempts == attempt and "45009" in row.error
        assert row.state == ("failed" if attempt == 8 else "pending")
        assert row.next_try_at == at + outbox.backoff(attempt)
        with clock.frozen(row.next_try_at - dt.timedelta(seconds=1)):  # not before its time
            assert outbox.run_wechat(clock.now(), wx_client, cfg) == {"sent": 0, "failed": 0}
        at = row.next_try_at
    with clock.frozen(at + dt.timedelta(days=1)):
        assert outbox.run_wechat(clock.now(), wx_client, cfg) == {"sent": 0, "failed": 0}  # given up
    assert wxapi.sent() == []
    web_login("dispatcher")
    page = client.get(f"/followup/orders/{order.number}").get_data(as_text=True)
    assert "发送失败" in page and "微信接口返回错误 45009" in page and "微信 oWX_ci…" in page


def test_unfollowed_fails_at_once_and_missing_template_is_retried(db: str, wxapi: WxApi) -> None:
    gone = _from_wechat("accepted")
    wxapi.fail_next(43004, count=1, errmsg="require subscribe")
    assert _run(wxapi) == {"sent": 0, "failed": 1}
    row = _wechat(gone)[0]
    assert row.state == "failed" and row.attempts == 1 and "43004" in row.error
    order = _from_wechat("accepted", "oWX_other")
    assert _run(wxapi, templates={}) == {"sent": 0, "failed": 1}
    row = _wechat(order)[0]
    assert row.state == "pending" and "未配置“受理回执”的微信模板" in row.error


def test_wrong_secret_is_an_error_not_a_loss(db: str, wxapi: WxApi) -> None:
    order = _from_wechat("accepted")
    assert _run(wxapi, secret="wrong") == {"sent": 0, "failed": 1}
    row = _wechat(order)[0]
    assert row.state == "pending" and "40125" in row.error
    with clock.frozen(row.next_try_at):
        assert _run(wxapi) == {"sent": 1, "failed": 0}


def test_wechat_reply_rates_the_order_once(db: str, wxapi: WxApi) -> None:
    order = _from_wechat("closed")
    early = outbox.handle_inbound("wechat", OPENID, "3", "wx:r0")  # before the invitation went out
    assert early.outcome == "intake"
    _run(wxapi)
    row = outbox.handle_inbound("wechat", OPENID, "3", "wx:r1")
    assert row.outcome == "rating" and row.order_number == order.number
    assert outbox.reply_text(row) == "感谢您的评价。"
    (rating,) = Rating.select().where(Rating.order == order)
    assert (rating.source, rating.dimension, rating.value) == ("wechat", "result", "3")
    assert Dissatisfaction.get(Dissatisfaction.order == order).source == "wechat"
    again = outbox.handle_inbound("wechat", OPENID, "1", "wx:r2")
    assert again.outcome == "ignored" and "已收到过您的评价" in outbox.reply_text(again)
    assert Rating.select().where(Rating.order == order).count() == 1
    # an SMS "1" from someone else does not touch it
    assert outbox.handle_inbound("wechat", "oWX_stranger", "1", "wx:r3").outcome == "intake"


def test_a_wechat_message_linked_to_an_existing_order_follows_it(db: str) -> None:
    from node.intake import service as intake

    order = factories.make_order("accepted", caller_phone="13900006666")
    row = outbox.handle_inbound("wechat", "oWX_linker", "我上周反映的出租车拒载怎么还没处理？", "wx:l1")
    intake.finish_contact(
        factories.actor("agent"), row.contact_id, {"outcome": "linked", "order_number": order.number}
    )
    unit = factories.make_unit()
    staff = factories.actor("unit_staff", unit)
    factories.walk(
        order,
        "closed",
        lambda role: staff if role == "unit" else factories.actor(role),
        unit.code,
        factories.PATH_BODIES,
    )
    assert [(m.event, m.to_masked) for m in _wechat(order)] == [
        ("closure", "微信 oWX_li…"),
        ("rating_invite", "微信 oWX_li…"),
    ]


def test_screen_text_of_a_template_message(db: str) -> None:
    order = _from_wechat("closed")
    closure = _wechat(order)[1]
    assert outbox.message_text(closure).startswith(f"您的工单已办结。{order.number}；办理结果：经查属实；")
    assert outbox.message_text(closure).endswith("。如有疑问请拨打12328。")


def test_outbox_screen_lists_failed_messages_and_resends_them(
    db: str,
    wxapi: WxApi,
    client: Any,
    web_login: Any,  # noqa: F811
) -> None:
    from node.audit.models import AuditEntry

    order = _from_wechat("accepted")
    wxapi.fail_next(43004, count=1, errmsg="require subscribe")
    _run(wxapi)
    (msg,) = _wechat(order)
    assert msg.state == "failed"
    _user, token = web_login("dispatcher")
    page = client.get("/followup/outbox").get_data(as_text=True)  # failed ones by default
    assert f'data-message="{msg.id}"' in page and "微信接口返回错误 43004" in page and "重新发送" in page
    assert 'href="/followup/outbox"' in page  # in the navigation
    sent_only = client.get("/followup/outbox?state=sent&channel=wechat").get_data(as_text=True)
    assert f'data-message="{msg.id}"' not in sent_only
    assert client.get("/followup/outbox?state=bogus").status_code == 422
    resp = client.post(f"/followup/outbox/{msg.id}/resend", data={"csrf_token": token})
    assert resp.status_code == 302
    row = CitizenMessage.get_by_id(msg.id)
    assert row.state == "pending" and row.attempts == 0
    assert AuditEntry.select().where(AuditEntry.event == "outbox.resent").count() == 1
    again = client.post(f"/followup/outbox/{msg.id}/resend", data={"csrf_token": token})
    assert again.status_code == 409 and "只有发送失败的消息" in again.get_data(as_text=True)
    assert _run(wxapi) == {"sent": 1, "failed": 0}
    assert client.post("/followup/outbox/999999/resend", data={"csrf_token": token}).status_code == 404


def test_outbox_screen_is_for_the_centre(db: str, client: Any, web_login: Any) -> None:  # noqa: F811
    _user, token = web_login("unit_staff", factories.make_unit())
    assert client.get("/followup/outbox").status_code == 403
    assert client.post("/followup/outbox/1/resend", data={"csrf_token": token}).status_code == 403
