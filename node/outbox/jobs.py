"""The worker's citizen-notification jobs, every 5 s: SMS when `[sms] host` is configured, WeChat
template messages when `[wechat] appid` is."""

from __future__ import annotations

from typing import Any

from node.jobs.worker import Job
from node.settings import Settings


def jobs(settings: Settings) -> list[Job]:
    from node.outbox import service
    from node.outbox.smpp import SmsConfig
    from node.outbox.wechat_send import NodeWeChatClient, WechatConfig

    service.install()
    out: list[Job] = []
    cfg = SmsConfig.from_section(settings.section("sms"))
    if cfg is not None:
        sms_cfg = cfg

        def send(now: Any) -> dict[str, int]:
            return service.run(now, sms_cfg)

        out.append(Job("citizen_sms", send, "interval", {"seconds": 5}))
    wx_cfg = WechatConfig.from_section(settings.section("wechat"))
    if wx_cfg is not None:
        client = NodeWeChatClient(wx_cfg)  # keeps the access token for the life of the worker
        wx = wx_cfg

        def send_wechat(now: Any) -> dict[str, int]:
            return service.run_wechat(now, client, wx)

        out.append(Job("citizen_wechat", send_wechat, "interval", {"seconds": 5}))
    return out
