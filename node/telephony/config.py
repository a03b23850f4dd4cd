"""Telephony settings: the `[telephony]` section of node.toml, validated, with defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.errors import ValidationError
from node.settings import Settings

# The PyPI PJSUA2 wheel is compiled with PJSUA_MAX_CALLS = 4: one caller plus one agent leg per
# conversation, so an engine admits at most 2 callers and keeps a slot free for each agent leg.
WHEEL_MAX_CALLS = 4
ANNOUNCER = "announcer"


@dataclass(frozen=True)
class TelephonyConfig:
    enabled: bool = True
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    service_number: str = "12328"
    # Sized for a 30-seat centre: 20 engines × 2 callers = 40 simultaneous callers (30 talking to
    # agents and 10 in the menu or the queue); each engine costs about 35 MB.
    engines: int = 20
    engine_base_port: int = 5070
    control_base_port: int = 5170
    rtp_base_port: int = 40000
    callers_per_engine: int = 2
    # One more engine answers the callers every engine refused ("lines busy" prompt, counted).
    busy_announcer: bool = True
    ring_timeout_s: float = 20.0
    wrapup_s: float = 15.0
    callback_offer_s: float = 60.0
    announce_every_s: float = 30.0
    rating_timeout_s: float = 8.0
    # 回访外呼: how long the citizen's phone rings before the attempt counts as 未接通 (无人接听)
    citizen_ring_s: float = 30.0
    retention_days: int = 180
    pstn_gateway: str = ""
    # Not-ready (示忙) reasons an agent picks from in the phone bar.
    not_ready_reasons: tuple[str, ...] = ("小休", "就餐", "会议", "培训", "整理工单")
    # Wallboard thresholds: a tile turns red at or beyond them.
    alert_wait_s: float = 60.0
    alert_queue: int = 5
    service_level_s: float = 20.0
    alert_service_level: float = 0.8
    alert_abandon_rate: float = 0.1
    # Digest realm of agents' SIP accounts; their stored HA1 = MD5(extension:realm:password), so
    # changing it invalidates every agent's SIP password.
    sip_realm: str = "hotline12328"
    # Kamailio logs each inbound call's INVITE-in and 200-out time (the benchmark reads them).
    trace_setup: bool = False
    prompts_dir: Path = Path("prompts")
    recordings_dir: Path = Path("recordings")
    run_dir: Path = Path("run")
    kamailio_bin: str = "kamailio"

    def engine_port(self, index: int) -> int:
        return self.engine_base_port + index

    def control_port(self, index: int) -> int:
        return self.control_base_port + index

    def rtp_port(self, index: int) -> int:
        return self.rtp_base_port + 40 * index

    def engine_name(self, index: int) -> str:
        return f"engine-{index + 1}" if index < self.engines else ANNOUNCER

    @property
    def processes(self) -> int:
        """Engine processes: the pool plus the busy announcer (index `engines`)."""
        return self.engines + (1 if self.busy_announcer else 0)

    @property
    def capacity(self) -> int:
        """Simultaneous callers the pool admits."""
        return self.engines * self.callers_per_engine


_INT_KEYS = (
    "sip_port",
    "engines",
    "engine_base_port",
    "control_base_port",
    "rtp_base_port",
    "callers_per_engine",
    "retention_days",
    "alert_queue",
)
_FLOAT_KEYS = (
    "ring_timeout_s",
    "wrapup_s",
    "callback_offer_s",
    "announce_every_s",
    "rating_timeout_s",
    "citizen_ring_s",
    "alert_wait_s",
    "service_level_s",
    "alert_service_level",
    "alert_abandon_rate",
)


def load(settings: Settings) -> TelephonyConfig:
    """The telephony config of a node; paths are relative to the node's home."""
    raw: dict[str, Any] = dict(settings.section("telephony"))
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for keys, cast, message in ((_INT_KEYS, int, "必须为整数"), (_FLOAT_KEYS, float, "必须为数字")):
        for key in keys:
            if key in raw:
                try:
                    values[key] = cast(raw[key])
                except (TypeError, ValueError):
                    errors[key] = message
    for key in ("sip_host", "service_number", "pstn_gateway", "kamailio_bin", "sip_realm"):
        if key in raw:
            values[key] = str(raw[key])
    if "not_ready_reasons" in raw:
        reasons = raw["not_ready_reasons"]
        if not isinstance(reasons, list) or not all(isinstance(r, str) and 0 < len(r) <= 20 for r in reasons):
            errors["not_ready_reasons"] = "示忙原因应为不超过20字的文字列表"
        else:
            values["not_ready_reasons"] = tuple(reasons)
    for key in ("enabled", "trace_setup", "busy_announcer"):
        if key in raw:
            if not isinstance(raw[key], bool):
                errors[key] = "必须为 true 或 false"
            else:
                values[key] = raw[key]
    cfg = TelephonyConfig(
        prompts_dir=settings.home / str(raw.get("prompts_dir", "prompts")),
        recordings_dir=settings.recordings_dir,
        run_dir=settings.run_dir / "telephony",
        **values,
    )
    if not 1 <= cfg.engines <= 64:
        errors["engines"] = "引擎数量应在1到64之间"
    if not 1 <= cfg.callers_per_engine <= WHEEL_MAX_CALLS:
        errors["callers_per_engine"] = f"每个引擎的来电数应在1到{WHEEL_MAX_CALLS}之间"
    for key in ("sip_port", "engine_base_port", "control_base_port", "rtp_base_port"):
        if not 1 <= getattr(cfg, key) <= 65000:
            errors[key] = "端口超出范围"
    timers = (cfg.ring_timeout_s, cfg.callback_offer_s, cfg.rating_timeout_s, cfg.citizen_ring_s)
    if min(timers) <= 0 or cfg.wrapup_s < 0:
        errors["timers"] = "振铃、话后处理、回电提示和评价等待时间必须为正数"
    if cfg.announce_every_s < 5 or cfg.callback_offer_s < 0:
        errors["announce_every_s"] = "排队播报间隔至少为5秒"
    if not 0 < cfg.alert_service_level <= 1 or not 0 < cfg.alert_abandon_rate <= 1:
        errors["alert_service_level"] = "服务水平和放弃率阈值应在0到1之间"
    if cfg.retention_days < 1:
        errors["retention_days"] = "录音保留天数至少为1天"
    if not cfg.sip_realm or not all(c.isalnum() or c in ".-_" for c in cfg.sip_realm):
        errors["sip_realm"] = "认证域只能包含字母、数字、点、横线和下划线"
    if not cfg.service_number.isdigit():
        errors["service_number"] = "服务号码只能包含数字"
    if errors:
        raise ValidationError("电话系统配置有误", details=errors)
    return cfg
