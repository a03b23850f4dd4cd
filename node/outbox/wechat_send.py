"""WeChat template messages (模板消息) to followers, sent by the worker with wechatpy's client.

The access token is fetched from the token endpoint and kept by wechatpy's session storage with its
expiry (one client per worker process, so one token per process until it expires); a send answered
40001/40014/42001 (token invalid or expired, e.g. fetched again elsewhere) fetches a new token and is
sent once more. Each message carries `client_msg_id` (the outbox id): the platform sends one message
per openid and client_msg_id within 10 minutes, so a resend after a worker died mid-way (lease
120 s) is not delivered twice. `[wechat]` in node.toml: appid, secret, api_base, url, and the
template id of each event in `[wechat.templates]` (docs/FOLLOWUP.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from node.outbox.models import EVENTS, CitizenMessage

API_BASE = "https://api.weixin.qq.com/cgi-bin/"
TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid / not latest / expired access token
# the follower cannot receive it: invalid openid, not following (any more), refused messages
PERMANENT_ERRORS = frozenset({40003, 43004, 43101})


@dataclass(frozen=True)
class WechatConfig:
    appid: str
    secret: str
    templates: dict[str, str] = field(default_factory=dict)
    api_base: str = API_BASE
    url: str = ""  # where a tap on the message leads (e.g. the portal's query page)
    timeout_s: float = 10.0
    lease_s: float = 120.0

    @classmethod
    def from_section(cls, section: dict[str, Any]) -> WechatConfig | None:
        if not section.get("appid"):
            return None
        templates = section.get("templates") or {}
        base = str(section.get("api_base") or API_BASE)
        return cls(
            appid=str(section["appid"]),
            secret=str(section.get("secret", "")),
            templates={k: str(v) for k, v in templates.items() if k in EVENTS and v},
            api_base=base if base.endswith("/") else base + "/",
            url=str(section.get("url", "")),
            timeout_s=float(section.get("timeout_s", 10.0)),
            lease_s=float(section.get("lease_s", 120.0)),
        )


class SendError(Exception):
    """A template message the platform did not take; `permanent` ones are not retried."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class _Http(requests.Session):
    """wechatpy fetches the token without a timeout; every request here has one."""

    def __init__(self, timeout: float):
        super().__init__()
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().request(method, url, *args, **kwargs)


class NodeWeChatClient(WeChatClient):  # type: ignore[misc]
    """wechatpy's client on the configured API base (the token endpoint too: wechatpy 1.8 has the
    platform's address written into fetch_access_token). Token errors are handled by send_template,
    once, not by wechatpy's unbounded auto_retry."""

    def __init__(self, cfg: WechatConfig):
        super().__init__(cfg.appid, cfg.secret, timeout=cfg.timeout_s, auto_retry=False)
        self.API_BASE_URL = cfg.api_base
        self._http = _Http(cfg.timeout_s)

    def fetch_access_token(self) -> dict[str, Any]:
        return self._fetch_access_token(  # type: ignore[no-any-return]
            url=f"{self.API_BASE_URL}token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


def payload(cfg: WechatConfig, msg: CitizenMessage, openid: str) -> dict[str, Any]:
    import json

    template_id = cfg.templates.get(msg.event)
    if not template_id:
        raise SendError(f"未配置“{EVENTS.get(msg.event, msg.event)}”的微信模板（[wechat.templates]）")
    body: dict[str, Any] = {
        "touser": openid,
        "template_id": template_id,
        "client_msg_id": f"12328-{msg.id}",
        "data": json.loads(msg.body),
    }
    if cfg.url:
        body["url"] = cfg.url
    return body


def send_template(client: NodeWeChatClient, cfg: WechatConfig, msg: CitizenMessage, openid: str) -> str:
    """Send one template message; returns the platform's msgid (raises SendError)."""
    data = payload(cfg, msg, openid)
    for attempt in (1, 2):
        try:
            if attempt == 2:
                client.fetch_access_token()  # expired or replaced elsewhere: a new one, once more
            result = client.post("message/template/send", data=dict(data))
        except WeChatClientException as exc:
            code = exc.errcode
            if code in TOKEN_ERRORS and attempt == 1:
                continue
            if code is None:
                status = exc.response.status_code if exc.response is not None else "无响应"
                raise SendError(f"微信接口请求失败（HTTP {status}）") from exc
            permanent = code in PERMANENT_ERRORS
            raise SendError(f"微信接口返回错误 {code}：{exc.errmsg}", permanent=permanent) from exc
        return str(result.get("msgid", ""))
    raise AssertionError("unreachable")
