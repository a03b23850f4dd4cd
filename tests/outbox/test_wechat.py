"""The WeChat Official Account callback URL, posted to exactly as the platform documents it
(signature = sha1 of the sorted token, timestamp and nonce; XML message body)."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
from flask import Flask

from node.intake.models import Contact
from node.outbox.models import InboundMessage

TOKEN = "hotline-wx-token"
XML = """<xml><ToUserName><![CDATA[gh_12328]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>
<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content>
<MsgId>{msgid}</MsgId></xml>"""


@pytest.fixture
def wx(db: str, settings: Any) -> Any:
    from node.app import create_app

    settings.extra["wechat"] = {"token": TOKEN}
    app: Flask = create_app(settings, manage_connections=False)
    app.config["TESTING"] = True
    return app.test_client()


def _signed(ts: int | None = None, nonce: str = "n0nce", token: str = TOKEN) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    sig = hashlib.sha1("".join(sorted([token, str(ts), nonce])).encode()).hexdigest()
    return {"signature": sig, "timestamp": str(ts), "nonce": nonce}


def test_url_check_and_text_becomes_an_intake_record(wx: Any) -> None:
    q = _signed()
    assert wx.get("/wechat/callback", query_string={**q, "echostr": "e123"}).get_data(as_text=True) == "e123"
    body = XML.format(
        openid="oWX_citizen1", ts=q["timestamp"], text="地铁2号线扶梯坏了一周没人修", msgid="6001"
    )
    resp = wx.post("/wechat/callback", query_string=q, data=body.encode(), content_type="text/xml")
    assert resp.status_code == 200 and "您的留言已收到" in resp.get_data(as_text=True)
    assert "<ToUserName><![CDATA[oWX_citizen1]]></ToUserName>" in resp.get_data(as_text=True)
    row = InboundMessage.get(InboundMessage.provider_ref == "wx:6001")
    contact = Contact.get_by_id(row.contact_id)
    assert contact.channel == "03" and "扶梯坏了" in contact.summary
    # the platform retries a message it got no answer for: the same MsgId is recorded once
    wx.post("/wechat/callback", query_string=q, data=body.encode(), content_type="text/xml")
    assert InboundMessage.select().where(InboundMessage.provider_ref == "wx:6001").count() == 1


@pytest.mark.parametrize(
    "query",
    [
        _signed(token="forged-token"),  # signed with another token
        {**_signed(), "signature": "0" * 40},
        _signed(ts=int(time.time()) - 3600),  # an old signed request replayed
        {},
    ],
)
def test_forged_or_replayed_requests_are_refused(wx: Any, query: dict[str, str]) -> None:
    before = InboundMessage.select().count()
    body = XML.format(openid="oWX_evil", ts="1", text="伪造", msgid="6002")
    resp = wx.post("/wechat/callback", query_string=query, data=body.encode(), content_type="text/xml")
    assert resp.status_code == 403 and "微信" in resp.get_json()["message"]
    assert wx.get("/wechat/callback", query_string={**query, "echostr": "x"}).status_code == 403
    assert InboundMessage.select().count() == before


def test_not_configured_is_404(client: Any) -> None:
    assert client.get("/wechat/callback", query_string=_signed()).status_code == 404
