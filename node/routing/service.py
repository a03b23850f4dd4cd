"""Routing rules: which handling units an order goes to (分派规则).

`suggest(order)` gives the dialog's pre-filled lead and assist units from the best matching rule;
`install()` hooks the work-order engine so an order reaching 待分派 (pending_dispatch) under a rule
marked `auto_dispatch` is dispatched at once by the system, in the same transaction, with the rule
named in the history. Rules are edited by administrators (`catalog.manage`), every change audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field, field_validator

from node import clock, db
from node.auth.service import SYSTEM, Actor
from node.catalog import service as catalog
from node.catalog.models import Unit
from node.errors import NotFound, ValidationError
from node.routing.models import RoutingRule
from node.validation import Input, parse

PERMISSION = "catalog.manage"
MAX_ASSIST = 10


class RuleBody(Input):
    name: Annotated[str, Field(min_length=1, max_length=60)]
    domain: Annotated[str, Field(pattern=r"^(\d{2})?$")] = ""
    sub_business: Annotated[str, Field(pattern=r"^(\d{4})?$")] = ""
    region_code: Annotated[str, Field(pattern=r"^(\d{6})?$")] = ""
    respondent: Annotated[str, Field(max_length=100)] = ""
    lead_unit: Annotated[str, Field(min_length=1, max_length=32)]
    assist_units: Annotated[list[Annotated[str, Field(max_length=32)]], Field(max_length=MAX_ASSIST)] = []
    auto_dispatch: bool = False
    priority: Annotated[int, Field(ge=0, le=9999)] = 100
    enabled: bool = True
    note: Annotated[str, Field(max_length=200)] = ""

    @field_validator("name", "respondent", "note")
    @classmethod
    def _printable(cls, v: str) -> str:
        if "\x00" in v:
            raise ValueError("不能包含控制字符")
        return v


@dataclass
class Suggestion:
    rule_id: int
    rule_name: str
    lead_unit: str
    assist_units: list[str] = field(default_factory=list)
    auto_dispatch: bool = False


def _check(body: RuleBody) -> None:
    if not (body.domain or body.sub_business or body.region_code or body.respondent):
        raise ValidationError(
            "规则至少要有一个条件（业务领域、子业务、行政区划或被反映对象）",
            details={"domain": "至少一个条件"},
        )
    if body.sub_business:
        if body.domain and body.sub_business[:2] != body.domain:
            raise ValidationError("子业务不属于所选业务领域", details={"sub_business": "与业务领域不符"})
        body.domain = body.sub_business[:2]
    catalog.check_codes(
        business_type="1", domain=body.domain or None, sub_business=body.sub_business or None, channel="01"
    )
    if body.region_code:
        catalog.check_region(body.region_code)
    codes = [body.lead_unit, *body.assist_units]
    if len(set(codes)) != len(codes):
        raise ValidationError("主办单位和协办单位不能重复", details={"assist_units": "与主办单位重复"})
    for code in codes:
        try:
            unit = catalog.unit_by_code(code)
        except NotFound:
            raise ValidationError(f"承办单位不存在：{code}", details={"lead_unit": "不存在"}) from None
        if not unit.active:
            raise ValidationError(f"承办单位已停用：{unit.name}", details={"lead_unit": "已停用"})


def _snapshot(rule: RoutingRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "domain": rule.domain,
        "sub_business": rule.sub_business,
        "region_code": rule.region_code,
        "respondent": rule.respondent,
        "lead_unit": rule.lead_unit.code,
        "assist_units": rule.assist_units,
        "auto_dispatch": rule.auto_dispatch,
        "priority": rule.priority,
        "enabled": rule.enabled,
    }


def _audit(actor: Actor, action: str, rule: RoutingRule, before: dict[str, Any] | None) -> None:
    from node.audit import service as audit

    audit.record(
        actor,
        "routing.changed",
        target=f"routing_rule:{rule.id}",
        details={
            "action": action,
            "before": before,
            "after": _snapshot(rule) if action != "delete" else None,
        },
    )


def _fields(body: RuleBody) -> dict[str, Any]:
    return {
        "name": body.name,
        "domain": body.domain,
        "sub_business": body.sub_business,
        "region_code": body.region_code,
        "respondent": body.respondent,
        "lead_unit": catalog.unit_by_code(body.lead_unit),
        "assist_units": ",".join(body.assist_units),
        "auto_dispatch": body.auto_dispatch,
        "priority": body.priority,
        "enabled": body.enabled,
        "note": body.note,
    }


def list_rules(actor: Actor) -> list[RoutingRule]:
    actor.require(PERMISSION)
    return list(RoutingRule.select().order_by(RoutingRule.priority, RoutingRule.id))


def get_rule(actor: Actor, rule_id: int) -> RoutingRule:
    actor.require(PERMISSION)
    rule = RoutingRule.get_or_none(RoutingRule.id == rule_id)
    if rule is None:
        raise NotFound(f"分派规则不存在：{rule_id}")
    return rule


def create_rule(actor: Actor, data: RuleBody | dict[str, Any]) -> RoutingRule:
    actor.require(PERMISSION)
    body = data if isinstance(data, RuleBody) else parse(RuleBody, data)
    _check(body)
    with db.write_tx():
        rule = RoutingRule.create(**_fields(body), updated_at=clock.now(), updated_by=actor.user_id)
        _audit(actor, "create", rule, None)
    return rule


def update_rule(actor: Actor, rule_id: int, data: RuleBody | dict[str, Any]) -> RoutingRule:
    body = data if isinstance(data, RuleBody) else parse(RuleBody, data)
    _check(body)
    with db.write_tx():
        rule = get_rule(actor, rule_id)
        before = _snapshot(rule)
        for name, value in _fields(body).items():
            setattr(rule, name, value)
        rule.updated_at, rule.updated_by = clock.now(), actor.user_id
        rule.save()
        _audit(actor, "update", rule, before)
    return rule


def delete_rule(actor: Actor, rule_id: int) -> None:
    with db.write_tx():
        rule = get_rule(actor, rule_id)
        before = _snapshot(rule)
        _audit(actor, "delete", rule, before)
        rule.delete_instance()


# ---- matching -----------------------------------------------------------------------------------


def _region_prefix(code: str) -> str:
    prefix = code.rstrip("0")
    return prefix + "0" if len(prefix) % 2 else prefix


def _specificity(rule: RoutingRule) -> int:
    return (
        (4 if rule.sub_business else 2 if rule.domain else 0)
        + (len(_region_prefix(rule.region_code)) // 2 if rule.region_code else 0)
        + (10 if rule.respondent else 0)  # a named company, plate or line is the most specific
    )


def matches(rule: RoutingRule, order: Any) -> bool:
    if rule.sub_business and rule.sub_business != (order.sub_business or ""):
        return False
    if rule.domain and rule.domain != (order.domain or ""):
        return False
    if rule.region_code and not (order.region_code or "").startswith(_region_prefix(rule.region_code)):
        return False
    if rule.respondent:
        word = rule.respondent.lower().replace(" ", "")
        said = " ".join(
            str(getattr(order, name, "") or "")
            for name in ("respondent_name", "respondent_plate", "respondent_route", "respondent_vessel")
        )
        if word not in said.lower().replace(" ", ""):
            return False
    return True


def best_rule(order: Any) -> RoutingRule | None:
    """The most specific enabled rule the order meets (then the lower priority number, older first)."""
    rules = (
        RoutingRule.select(RoutingRule, Unit)
        .join(Unit)
        .where(RoutingRule.enabled == True, Unit.active == True)  # noqa: E712
    )
    found = [r for r in rules if matches(r, order)]
    if not found:
        return None
    return sorted(found, key=lambda r: (-_specificity(r), r.priority, r.id))[0]


def suggest(order: Any) -> Suggestion | None:
    rule = best_rule(order)
    if rule is None:
        return None
    active = {u.code for u in catalog.units(active_only=True)}
    assists = [c for c in rule.assist_units.split(",") if c and c in active and c != rule.lead_unit.code]
    return Suggestion(rule.id, rule.name, rule.lead_unit.code, assists, rule.auto_dispatch)


# ---- automatic dispatch ---------------------------------------------------------------------------


def on_order_change(order: Any, event: Any) -> None:
    """Work-order hook: an order that has just reached 待分派 under an automatic rule is dispatched."""
    if (
        event.to_state != "pending_dispatch"
        or event.action == "dispatch"
        or order.state != "pending_dispatch"
    ):
        return
    hit = suggest(order)
    if hit is None or not hit.auto_dispatch:
        return
    from node.workflow import schemas
    from node.workflow import service as workflow

    note = f"按分派规则“{hit.rule_name}”自动分派"
    workflow._dispatch(
        order, SYSTEM, schemas.Dispatch(lead_unit=hit.lead_unit, assist_units=hit.assist_units, note=note)
    )


def install() -> None:
    """Hook automatic dispatch into the work-order engine (idempotent)."""
    from node.workflow import service as workflow

    if on_order_change not in workflow.ON_CHANGE:
        workflow.ON_CHANGE.append(on_order_change)
