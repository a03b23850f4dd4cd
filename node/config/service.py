"""Run-time settings (运行参数) and the version counters behind every per-process cache.

A node runs several processes (gunicorn workers, the worker, engines), each with its own caches
of the catalog, the roles and these settings. A change bumps its area's counter in the same
transaction; every process compares the counter with the one its cache was built from, at most
every `CHECK_SECONDS`, so an administrator's change is in force everywhere within that time and
at once in the process that made it — no restart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from node import clock
from node import settings as node_settings
from node.config.models import ConfigVersion, RuntimeSetting
from node.db import write_tx
from node.errors import ValidationError

if TYPE_CHECKING:
    from node.auth.service import Actor

CHECK_SECONDS = 2.0
AREAS = ("catalog", "roles", "settings", "ivr")

_lock = threading.Lock()
_checked: dict[tuple[str, int], tuple[float, int]] = {}


def _db() -> int:
    """Which database the counters belong to (a process may be pointed at another, as tests do)."""
    from node.db import database

    return id(database.obj)


def version(area: str) -> int:
    """The area's counter as this process last read it (re-read after CHECK_SECONDS)."""
    now = time.monotonic()
    key = (area, _db())
    hit = _checked.get(key)  # a single dict read needs no lock; every request asks many times
    if hit is not None and now - hit[0] < CHECK_SECONDS:
        return hit[1]
    row = ConfigVersion.get_or_none(ConfigVersion.name == area)
    value = row.version if row else 0
    with _lock:
        _checked[key] = (now, value)
    return value


def stamp(area: str) -> tuple[int, int]:
    """(database, counter): what a cache of `area` records it was built from."""
    return _db(), version(area)


def bump(area: str) -> None:
    """Inside the transaction that changes `area`: move its counter (other processes reload)."""
    if area not in AREAS:
        raise ValueError(f"unknown config area {area!r}")
    ConfigVersion.insert(name=area, version=1, changed_at=clock.now()).on_conflict(
        conflict_target=[ConfigVersion.name],
        update={ConfigVersion.version: ConfigVersion.version + 1, ConfigVersion.changed_at: clock.now()},
    ).execute()
    forget(area)


def forget(area: str | None = None) -> None:
    """Make this process re-read the counter(s) on the next look (after a bump; everything, when
    the database itself changes, as between tests)."""
    global _overrides
    with _lock:
        if area is None:
            _checked.clear()
            _overrides = None
        else:
            _checked.pop((area, _db()), None)


# ---- run-time settings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingDef:
    key: str
    label: str
    kind: str  # int | pct (per cent, 2 decimals) | time | text
    help: str
    default: Any = None  # None: the node.toml value (a field of node.settings.Settings)
    minimum: int | None = None
    maximum: int | None = None
    group: str = "web"


# 统计分析 dashboard targets (指标目标): indicator -> (label, default). The default is node.toml's
# `[stats] targets = { on_time_rate = 0.9, … }` if set, else this value; an administrator's value
# (per cent on the screen) overrides both. `abandonment_rate` is met at or below its target.
STATS_TARGETS: dict[str, tuple[str, float]] = {
    "connection_rate": ("人工接通率", 0.90),
    "service_level": ("10秒内接通率", 0.80),
    "on_time_rate": ("限时办结率", 0.95),
    "callback_rate": ("回访率", 0.90),
    "result_satisfaction": ("处理满意率", 0.90),
    "phone_satisfaction": ("电话服务满意度", 0.90),
    "instant_answer_rate": ("即时答复率", 0.80),
    "abandonment_rate": ("放弃率（不高于）", 0.05),
}
TARGET_PREFIX = "target_"

SETTINGS: dict[str, SettingDef] = {
    d.key: d
    for d in (
        SettingDef(
            "session_minutes", "无操作自动退出（分钟）", "int", "超过此时间无操作须重新登录", None, 5, 480
        ),
        SettingDef("session_max_hours", "登录最长有效（小时）", "int", "登录后到时必须重新登录", None, 1, 72),
        SettingDef(
            "token_max_days", "访问令牌最长有效（天）", "int", "新签发令牌的有效期上限", None, 1, 3650
        ),
        SettingDef("work_start", "上班时间", "time", "计算签收时限等工作时间（HH:MM）", None, group="work"),
        SettingDef("work_end", "下班时间", "time", "须晚于上班时间（HH:MM）", None, group="work"),
        SettingDef(
            "backup_hour", "每日备份时刻（时）", "int", "后台任务每天此时自动备份", 2, 0, 23, "backup"
        ),
        SettingDef(
            "backup_keep_days", "备份保留天数", "int", "超过天数的自动备份被删除", 14, 1, 365, "backup"
        ),
        SettingDef(
            "portal_notice",
            "公众服务页公告",
            "text",
            "显示在公众服务首页顶部，留空不显示",
            "",
            0,
            200,
            "portal",
        ),
        *(
            SettingDef(
                TARGET_PREFIX + name,
                f"目标：{label}（%）",
                "pct",
                "统计分析概览据此标绿或标红",
                None,
                0,
                100,
                "stats",
            )
            for name, (label, _) in STATS_TARGETS.items()
        ),
    )
}
GROUPS = {
    "web": "登录与会话",
    "work": "工作时间",
    "backup": "备份",
    "portal": "公众服务",
    "stats": "统计目标",
}
TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

_overrides: tuple[tuple[int, int], dict[str, Any]] | None = None


def _values() -> dict[str, Any]:
    global _overrides
    v = stamp("settings")
    cached = _overrides
    if cached is not None and cached[0] == v:
        return cached[1]
    rows = {r.key: r.value for r in RuntimeSetting.select() if r.key in SETTINGS}
    _overrides = (v, rows)
    return rows


def default(key: str) -> Any:
    d = SETTINGS[key]
    if d.default is not None:
        return d.default
    if d.group == "stats":  # node.toml [stats] targets (a fraction), else the built-in target
        name = key[len(TARGET_PREFIX) :]
        raw = node_settings.current().section("stats").get("targets", {}).get(name, STATS_TARGETS[name][1])
        return round(float(raw) * 100, 2)
    return getattr(node_settings.current(), key)


def stats_targets() -> dict[str, float]:
    """The dashboard's targets in force, as fractions (0.95 = 95 %)."""
    return {name: round(float(value(TARGET_PREFIX + name)) / 100, 6) for name in STATS_TARGETS}


def value(key: str) -> Any:
    """The setting in force: the administrator's value, else node.toml's, else the default."""
    if key not in SETTINGS:
        raise KeyError(key)
    overrides = _values()
    return overrides[key] if key in overrides else default(key)


def live() -> node_settings.Settings:
    """The node's settings with the run-time values applied (for code that reads them per use)."""
    base = node_settings.current()
    fields = {f.name for f in dataclasses.fields(base)}
    changes = {k: v for k, v in _values().items() if k in fields}
    return dataclasses.replace(base, **changes) if changes else base


def listing() -> list[dict[str, Any]]:
    overrides = _values()
    return [
        {
            "key": d.key,
            "label": d.label,
            "kind": d.kind,
            "help": d.help,
            "group": d.group,
            "group_name": GROUPS[d.group],
            "minimum": d.minimum,
            "maximum": d.maximum,
            "value": overrides.get(d.key, default(d.key)),
            "default": default(d.key),
            "overridden": d.key in overrides,
        }
        for d in SETTINGS.values()
    ]


def _parse(d: SettingDef, raw: Any) -> Any:
    if d.kind == "int":
        try:
            number = int(str(raw).strip())
        except ValueError:
            raise ValidationError(f"{d.label}应为整数", details={d.key: "应为整数"}) from None
        if (d.minimum is not None and number < d.minimum) or (d.maximum is not None and number > d.maximum):
            raise ValidationError(
                f"{d.label}应在 {d.minimum} 到 {d.maximum} 之间", details={d.key: f"{d.minimum}-{d.maximum}"}
            )
        return number
    if d.kind == "pct":
        try:
            number_ = round(float(str(raw).strip().rstrip("%")), 2)
        except ValueError:
            raise ValidationError(
                f"{d.label}应为数字（百分数，如 90 或 92.5）", details={d.key: "应为数字"}
            ) from None
        if not 0 <= number_ <= 100:
            raise ValidationError(f"{d.label}应在 0 到 100 之间", details={d.key: "0-100"})
        return number_
    text = str(raw if raw is not None else "").strip()
    if d.kind == "time" and not TIME_RE.match(text):
        raise ValidationError(f"{d.label}格式应为 HH:MM（如 08:30）", details={d.key: "格式应为 HH:MM"})
    if d.kind == "text" and d.maximum is not None and len(text) > d.maximum:
        raise ValidationError(f"{d.label}不能超过 {d.maximum} 字", details={d.key: "过长"})
    return text


def update(actor: Actor, changes: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Validate and store changed values (an empty text for a node.toml key restores node.toml's);
    returns {key: (old, new)} of what actually changed. Audited as config.changed."""
    from node.audit import service as audit

    actor.require("node.manage")
    unknown = sorted(set(changes) - set(SETTINGS))
    if unknown:
        raise ValidationError(
            "未知的运行参数：" + "、".join(unknown), details={k: "未知参数" for k in unknown}
        )
    parsed = {k: _parse(SETTINGS[k], v) for k, v in changes.items()}
    now = clock.now()
    with write_tx():
        stored = {r.key: r.value for r in RuntimeSetting.select() if r.key in SETTINGS}  # not the cache
        current = {k: stored.get(k, default(k)) for k in SETTINGS}
        merged = {**current, **parsed}
        if dt.time.fromisoformat(merged["work_start"]) >= dt.time.fromisoformat(merged["work_end"]):
            raise ValidationError("下班时间须晚于上班时间", details={"work_end": "须晚于上班时间"})
        if merged["session_minutes"] > merged["session_max_hours"] * 60:
            raise ValidationError(
                "无操作退出时间不能长于登录最长有效时间",
                details={"session_minutes": "不能长于登录最长有效时间"},
            )
        diff = {k: (current[k], v) for k, v in parsed.items() if v != current[k]}
        if not diff:
            return {}
        for key, (_, new) in diff.items():
            if new == default(key):
                RuntimeSetting.delete().where(RuntimeSetting.key == key).execute()
                continue
            RuntimeSetting.insert(key=key, value=new, updated_at=now, updated_by=actor.username).on_conflict(
                conflict_target=[RuntimeSetting.key],
                update={
                    RuntimeSetting.value: new,
                    RuntimeSetting.updated_at: now,
                    RuntimeSetting.updated_by: actor.username,
                },
            ).execute()
        bump("settings")
        audit.record(
            actor,
            "config.changed",
            target="settings",
            details={k: {"from": old, "to": new} for k, (old, new) in diff.items()},
        )
    forget("settings")
    global _overrides
    _overrides = None
    return diff
