"""Scoring rules of an appraisal item, as pure functions, and the validation of scheme items.

An item scores between 0 and its weight:
- linear (线性): the value's position between a floor (0 points) and a target (full points),
  clamped; a target below the floor means lower is better (handling time, return rate).
- thresholds (分档): bands of [threshold, points]; the best band the value reaches gives its points
  (reaches = at least the threshold, or at most it when lower is better); none reached gives 0.
- deduction (按次扣分): full weight less `per_event` points for each event (urges, objections upheld,
  complaints), never below weight − cap (cap defaults to the weight).
A value that is missing (no calls, no orders in the period) is handled as the item says: `exclude`
(the item leaves the total, which is rescaled to the weights that remain), `full` or `zero`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from node.errors import ValidationError

RULES: dict[str, str] = {"linear": "线性（下限→目标）", "thresholds": "分档", "deduction": "按次扣分"}
MISSING: dict[str, str] = {"exclude": "不计入（按其余权重折算）", "full": "计满分", "zero": "计零分"}
MAX_ITEMS = 30
MAX_WEIGHT = 1000.0
MAX_ABS = 1e9


@dataclass(frozen=True)
class Item:
    key: str
    indicator: str
    label: str
    weight: float
    rule: str
    floor: float = 0.0
    target: float = 0.0
    bands: tuple[tuple[float, float], ...] = ()
    higher_better: bool = True
    per_event: float = 0.0
    cap: float | None = None
    missing: str = "exclude"

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "indicator": self.indicator,
            "label": self.label,
            "weight": self.weight,
            "rule": self.rule,
            "floor": self.floor,
            "target": self.target,
            "bands": [list(b) for b in self.bands],
            "higher_better": self.higher_better,
            "per_event": self.per_event,
            "cap": self.cap,
            "missing": self.missing,
        }

    def describe(self) -> str:
        """The rule in words, as the score card shows it."""
        if self.rule == "linear":
            way = "越高越好" if self.target >= self.floor else "越低越好"
            return f"下限 {_num(self.floor)} 得0分，达到目标 {_num(self.target)} 得满分，其间线性（{way}）"
        if self.rule == "thresholds":
            sign = "≥" if self.higher_better else "≤"
            return "；".join(f"{sign}{_num(t)} 得{_num(p)}分" for t, p in self.bands) + "；其余得0分"
        cap = self.weight if self.cap is None else self.cap
        return f"每次扣 {_num(self.per_event)} 分，最多扣 {_num(cap)} 分"


def _num(x: float) -> str:
    return f"{x:g}"


def linear(value: float, floor: float, target: float, weight: float) -> float:
    """Points for `value` on a straight line from `floor` (0) to `target` (weight), clamped."""
    if target == floor:
        return weight if value >= target else 0.0
    share = (value - floor) / (target - floor)
    return weight * min(1.0, max(0.0, share))


def thresholds(value: float, bands: tuple[tuple[float, float], ...], higher_better: bool = True) -> float:
    """Points of the best band that `value` reaches (0 when none)."""
    best = 0.0
    for threshold, points in bands:
        reached = value >= threshold if higher_better else value <= threshold
        if reached:
            best = max(best, points)
    return best


def deduction(events: float, per_event: float, weight: float, cap: float | None = None) -> float:
    """Weight less `per_event` per event, at most `cap` (default: the whole weight) taken off."""
    limit = weight if cap is None else min(cap, weight)
    return weight - min(limit, max(0.0, events) * per_event)


def score(item: Item, value: float | None) -> float | None:
    """The item's points for a raw value; None when the value is missing and the item is excluded."""
    if value is None:
        return {"exclude": None, "full": item.weight, "zero": 0.0}[item.missing]
    if item.rule == "linear":
        pts = linear(value, item.floor, item.target, item.weight)
    elif item.rule == "thresholds":
        pts = thresholds(value, item.bands, item.higher_better)
    else:
        pts = deduction(value, item.per_event, item.weight, item.cap)
    return round(pts, 4)


def total(items: list[Item], points: list[float | None]) -> float:
    """Sum of the item points, rescaled to the full weight when items were excluded for lack of data.
    With every item excluded the total is 0."""
    full = sum(i.weight for i in items)
    present = [(i, p) for i, p in zip(items, points, strict=True) if p is not None]
    got_weight = sum(i.weight for i, _ in present)
    if not present or got_weight == 0:
        return 0.0
    return round(sum(p for _, p in present) * full / got_weight, 2)


def _number(raw: Any, where: str, errors: dict[str, str], *, low: float = -MAX_ABS) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        errors[where] = "应为数字"
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        errors[where] = "应为数字"
        return 0.0
    if not math.isfinite(value) or value < low or abs(value) > MAX_ABS:
        errors[where] = "数值超出范围"
        return 0.0
    return value


def _text(raw: Any, where: str, errors: dict[str, str], limit: int) -> str:
    text = str(raw if raw is not None else "").strip()
    if "\x00" in text:
        errors[where] = "含有非法字符"
        return ""
    if not text:
        errors[where] = "不能为空"
    elif len(text) > limit:
        errors[where] = f"不超过{limit}字"
    return text[:limit]


@dataclass
class _Collected:
    items: list[Item] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def parse_items(raw: Any, indicators: dict[str, str]) -> list[Item]:
    """Scheme items from JSON-like data, each checked; `indicators` maps the allowed indicator codes
    to their names. Raises one ValidationError naming every problem."""
    if not isinstance(raw, list) or not raw:
        raise ValidationError("考核方案至少需要一个考核项", details={"items": "至少一项"})
    if len(raw) > MAX_ITEMS:
        raise ValidationError(f"考核项不超过{MAX_ITEMS}个", details={"items": "过多"})
    out = _Collected()
    errors = out.errors
    seen: set[str] = set()
    for n, entry in enumerate(raw, 1):
        at = f"第{n}项"
        if not isinstance(entry, dict):
            errors[at] = "应为对象"
            continue
        indicator = str(entry.get("indicator") or "")
        if indicator not in indicators:
            errors[f"{at}.指标"] = f"未知指标 {indicator[:40]}"
        key = str(entry.get("key") or indicator)[:40]
        if key in seen:
            errors[f"{at}.代码"] = f"考核项重复：{key}"
        seen.add(key)
        label = _text(entry.get("label") or indicators.get(indicator, ""), f"{at}.名称", errors, 40)
        weight = _number(entry.get("weight"), f"{at}.权重", errors, low=0)
        if weight > MAX_WEIGHT:
            errors[f"{at}.权重"] = f"权重不超过{MAX_WEIGHT:g}"
        rule = str(entry.get("rule") or "")
        if rule not in RULES:
            errors[f"{at}.计分规则"] = "应为 线性 / 分档 / 按次扣分"
        missing = str(entry.get("missing") or "exclude")
        if missing not in MISSING:
            errors[f"{at}.无数据"] = "应为 exclude / full / zero"
        floor = target = per_event = 0.0
        cap: float | None = None
        bands: list[tuple[float, float]] = []
        higher_better = entry.get("higher_better", True) is not False
        if rule == "linear":
            floor = _number(entry.get("floor"), f"{at}.下限", errors)
            target = _number(entry.get("target"), f"{at}.目标", errors)
            if floor == target and f"{at}.下限" not in errors:
                errors[f"{at}.目标"] = "目标值不能等于下限"
        elif rule == "thresholds":
            raw_bands = entry.get("bands")
            if not isinstance(raw_bands, list) or not raw_bands or len(raw_bands) > 20:
                errors[f"{at}.分档"] = "需要1至20个档位"
            else:
                for b, band in enumerate(raw_bands, 1):
                    if not isinstance(band, list | tuple) or len(band) != 2:
                        errors[f"{at}.第{b}档"] = "应为 [阈值, 得分]"
                        continue
                    t = _number(band[0], f"{at}.第{b}档阈值", errors)
                    p = _number(band[1], f"{at}.第{b}档得分", errors, low=0)
                    if p > weight:
                        errors[f"{at}.第{b}档得分"] = "得分不能超过权重"
                    bands.append((t, p))
        elif rule == "deduction":
            per_event = _number(entry.get("per_event"), f"{at}.每次扣分", errors, low=0)
            if entry.get("cap") not in (None, ""):
                cap = _number(entry.get("cap"), f"{at}.扣分上限", errors, low=0)
        out.items.append(
            Item(
                key=key,
                indicator=indicator,
                label=label,
                weight=weight,
                rule=rule,
                floor=floor,
                target=target,
                bands=tuple(bands),
                higher_better=higher_better,
                per_event=per_event,
                cap=cap,
                missing=missing,
            )
        )
    if errors:
        raise ValidationError(
            "考核项有误：" + "；".join(f"{k}{v}" for k, v in list(errors.items())[:8]), details=errors
        )
    return out.items


def items_from_json(data: list[dict[str, Any]]) -> list[Item]:
    """Items as stored (already validated when saved)."""
    return [
        Item(
            key=d["key"],
            indicator=d["indicator"],
            label=d["label"],
            weight=float(d["weight"]),
            rule=d["rule"],
            floor=float(d.get("floor") or 0),
            target=float(d.get("target") or 0),
            bands=tuple((float(t), float(p)) for t, p in d.get("bands") or []),
            higher_better=d.get("higher_better", True) is not False,
            per_event=float(d.get("per_event") or 0),
            cap=None if d.get("cap") is None else float(d["cap"]),
            missing=d.get("missing") or "exclude",
        )
        for d in data
    ]
