"""User, role and catalog administration services: validation, permission, audit, last admin, scope."""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest

from node.audit.models import AuditEntry
from node.auth import admin
from node.auth import service as auth
from node.catalog import admin as catalog_admin
from node.catalog import holidays
from node.catalog import service as catalog
from node.catalog.models import Unit
from node.config import service as config
from node.errors import Conflict, PermissionDenied, ValidationError
from node.workflow import service as workflow
from node.workflow.models import Assignment, OrderEvent
from tests import factories


def _events(target: str) -> list[str]:
    return [e.event for e in AuditEntry.select().where(AuditEntry.target == target).order_by(AuditEntry.seq)]


def _only_admin() -> auth.Actor:
    """Leave exactly one active administrator: the returned actor."""
    from node.auth.models import User

    User.update(active=False).where(User.roles.contains("admin")).execute()
    return factories.actor("admin")


def test_last_admin_cannot_be_disabled_demoted_or_role_stripped(db):
    me = _only_admin()
    with pytest.raises(Conflict, match="不能停用自己的账号"):
        admin.set_active(me, me.user_id, False)
    with pytest.raises(Conflict, match="最后一个管理员"):
        admin.update_user(me, me.user_id, display_name="我", roles=["agent"], unit_id=None)
    other = factories.actor("admin")
    admin.set_active(me, other.user_id, False)  # allowed: `me` stays an administrator
    with pytest.raises(Conflict, match="最后一个管理员"):
        admin.update_user(me, me.user_id, display_name="我", roles=["agent"], unit_id=None)
    assert auth.get_user(me.user_id).active and "admin" in auth.get_user(me.user_id).role_list


def test_custom_role_with_user_manage_counts_as_admin_and_cannot_lose_it_last(db):
    me = _only_admin()
    admin.save_role(
        me, code="user_admin", name="用户管理员", permissions=["user.manage"], scope="own", create=True
    )
    deputy = factories.make_user("agent")
    admin.update_user(me, deputy.id, display_name="副手", roles=["user_admin"], unit_id=None)
    d = auth.actor_for(auth.get_user(deputy.id))
    assert d.can("user.manage") and d.can("order.view_own") and not d.can("order.view_all")
    admin.set_active(d, me.user_id, False)  # the deputy may disable the built-in admin: one admin stays
    with pytest.raises(Conflict, match="最后一个管理员"):
        admin.save_role(
            d, code="user_admin", name="用户管理员", permissions=["stats.view"], scope="own", create=False
        )


def test_role_validation_and_audit(db):
    me = factories.actor("admin")
    with pytest.raises(ValidationError) as exc:
        admin.save_role(me, code="Agent", name="话务员", permissions=["nope"], scope="all", create=True)
    assert set(exc.value.details) == {"code", "name", "permissions", "scope"}
    admin.save_role(
        me,
        code="night_agent",
        name="夜班坐席",
        permissions=["contact.create", "order.create"],
        scope="own",
        create=True,
    )
    assert _events("night_agent") == ["role.changed"]
    with pytest.raises(PermissionDenied):
        admin.save_role(
            factories.actor("supervisor"),
            code="x_y",
            name="x",
            permissions=["stats.view"],
            scope="own",
            create=True,
        )
    holder = factories.make_user("agent")
    admin.update_user(me, holder.id, display_name="夜班", roles=["night_agent"], unit_id=None)
    with pytest.raises(Conflict, match="仍有 1 个用户"):
        admin.delete_role(me, "night_agent")


def test_data_scopes_own_unit_node(db):
    me = factories.actor("admin")
    admin.save_role(
        me,
        code="own_agent",
        name="本人坐席",
        permissions=["contact.create", "order.create", "order.submit"],
        scope="own",
        create=True,
    )
    own_user = factories.make_user("agent")
    admin.update_user(me, own_user.id, display_name="小王", roles=["own_agent"], unit_id=None)
    mine_actor = auth.actor_for(auth.get_user(own_user.id))
    mine = workflow.create_order(mine_actor, {**factories.ORDER_DEFAULTS, "submit": False})
    theirs = factories.make_order()
    unit = factories.make_unit()
    dispatched = factories.make_order("dispatched", unit=unit)
    seen = {o.number for o in workflow.list_orders(mine_actor, workflow.OrderFilter(), 1, 100)[0]}
    assert mine.number in seen and theirs.number not in seen and dispatched.number not in seen
    staff = factories.actor("unit_staff", unit)
    seen_unit = {o.number for o in workflow.list_orders(staff, workflow.OrderFilter(), 1, 100)[0]}
    assert seen_unit == {dispatched.number}
    dispatcher = factories.actor("dispatcher")
    for number in (mine.number, theirs.number, dispatched.number):
        assert workflow.get_order(dispatcher, number).number == number


def test_role_change_ends_sessions_and_is_audited(db):
    me = factories.actor("admin")
    user = factories.make_user("agent")
    auth.start_session(user)
    admin.update_user(me, user.id, display_name=user.display_name, roles=["reviewer"], unit_id=None)
    assert admin.live_sessions([user.id]) == {}
    assert "user.roles_changed" in _events(user.username)


def test_reset_code_expires(db):
    from node import clock

    me = factories.actor("admin")
    user = factories.make_user("agent")
    code, _ = admin.reset_password(me, user.id)
    with clock.frozen(clock.now() + dt.timedelta(hours=25)), pytest.raises(ValidationError, match="已过期"):
        admin.redeem_reset(user.username, code, "newpass123")
    code2, _ = admin.reset_password(me, user.id)
    with pytest.raises(ValidationError, match="至少8位"):
        admin.redeem_reset(user.username, code2, "short")
    admin.redeem_reset(user.username, code2, "newpass123")
    assert auth.authenticate(user.username, "newpass123").id == user.id


def test_deactivating_a_unit_hands_orders_and_staff_to_the_successor(db):
    me = factories.actor("admin")
    old, new = factories.make_unit(), factories.make_unit()
    staff = factories.make_user("unit_staff", old)
    signed = factories.make_order("handling", unit=old)
    with pytest.raises(ValidationError, match="请选择接收单位"):
        catalog_admin.deactivate_unit(me, old.code)
    moved = catalog_admin.deactivate_unit(me, old.code, new.code, "机构改革")
    assert moved == [signed.number]
    part = Assignment.get(Assignment.order == signed.id, Assignment.active == True)  # noqa: E712
    assert part.unit_id == new.id and part.signed_at is None
    assert workflow.get_order(me, signed.number).state == "dispatched"
    event = OrderEvent.select().where(OrderEvent.order == signed.id).order_by(OrderEvent.id.desc()).first()
    assert event.action == "reassign" and event.reason == "机构改革"
    assert auth.get_user(staff.id).unit_id == new.id
    assert not Unit.get_by_id(old.id).active
    assert _events(old.code)[-1] == "unit.changed"
    with pytest.raises(ValidationError, match="单位已停用"):
        workflow.perform(
            factories.actor("dispatcher"),
            factories.make_order("pending_dispatch").number,
            "dispatch",
            {"lead_unit": old.code},
        )


def test_local_codes_and_deactivation(db):
    me = factories.actor("admin")
    with pytest.raises(ValidationError, match="50-99"):
        catalog_admin.add_sub_business(me, "04", "0410", "网约车")
    catalog_admin.add_sub_business(me, "04", "0451", "网约车")
    assert catalog.sub_businesses()["0451"].name == "网约车"
    with pytest.raises(Conflict, match="不能改名"):
        catalog_admin.rename_code(me, "sub", "0401", "公交")
    catalog_admin.set_code_active(me, "subject", "01", False)
    assert "01" not in catalog.reasons("subject") and catalog.reason_name("subject", "01")
    catalog_admin.set_code_active(me, "sub", "0451", False)
    assert "0451" not in catalog.sub_businesses()
    catalog.check_codes(business_type="1", domain="04", sub_business="0451")  # old orders stay valid
    assert config.version("catalog") > 0


def test_sla_policy_validation_and_effect(db):
    me = factories.actor("admin")
    with pytest.raises(ValidationError) as exc:
        catalog_admin.save_policy(me, {"business_type": "9", "limit_value": "-1", "warn_percents": "80,50"})
    assert {"business_type", "limit_value", "warn_percents"} <= set(exc.value.details)
    values = {
        "business_type": "1",
        "domain_code": "04",
        "limit_value": "3",
        "limit_unit": "workday",
        "sign_minutes": "60",
        "max_extensions": "1",
        "max_extension_days": "5",
        "max_returns": "2",
        "callback_workdays": "2",
        "warn_percents": "50,80",
        "requires_review": "1",
    }
    policy = catalog_admin.save_policy(me, values)
    assert catalog.policy_for("1", "04", "320100").limit_value == 3
    default = catalog.policy_for("1", "01", "320100")
    with pytest.raises(Conflict, match="默认时限策略不能停用"):
        catalog_admin.set_policy_active(me, default.id, False)
    catalog_admin.set_policy_active(me, policy.id, False)
    assert catalog.policy_for("1", "04", "320100").id == default.id


NOTICE_2025 = """国务院办公厅关于2025年部分节假日安排的通知
一、元旦：1月1日（周三）放假1天，不调休。
二、春节：1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假调休，共8天。1月26日（周日）、2月8日（周六）上班。
三、清明节：4月4日（周五）至6日（周日）放假，共3天。
四、劳动节：5月1日（周四）至5日（周一）放假调休，共5天。4月27日（周日）上班。
五、端午节：5月31日（周六）至6月2日（周一）放假，共3天。
六、国庆节、中秋节：10月1日（周三）至8日（周三）放假调休，共8天。9月28日（周日）、10月11日（周六）上班。
"""
NOTICE_2026 = (
    "国务院办公厅关于2026年部分节假日安排的通知 一、元旦：1月1日（周四）至3日（周六）放假调休，共3天。1月4日（周日）上班。"
    "二、春节：2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休，共9天。2月14日（周六）、2月28日（周六）上班。"
    "三、清明节：4月4日（周六）至6日（周一）放假，共3天。四、劳动节：5月1日（周五）至5日（周二）放假调休，共5天。5月9日（周六）上班。"
    "五、端午节：6月19日（周五）至21日（周日）放假，共3天。六、中秋节：9月25日（周五）至27日（周日）放假，共3天。"
    "七、国庆节：10月1日（周四）至7日（周三）放假调休，共7天。9月20日（周日）、10月10日（周六）上班。"
)


@pytest.mark.parametrize("text", [NOTICE_2025, NOTICE_2026], ids=["2025-lines", "2026-one-paragraph"])
def test_notice_parser_agrees_with_the_holiday_package(text):
    days = {d.day: d.is_workday for d in holidays.parse_notice(text)}
    year = holidays.notice_year(text)
    day = dt.date(year, 1, 1)
    while day.year == year:
        assert days.get(day, day.weekday() < 5) == chinese_calendar.is_workday(day), day
        day += dt.timedelta(days=1)


def test_notice_parser_refuses_garbage():
    with pytest.raises(ValidationError, match="年份"):
        holidays.parse_notice("一、元旦：1月1日放假")
    with pytest.raises(ValidationError, match="放假日期"):
        holidays.parse_notice("关于2027年 一、春节：另行通知。")


def test_import_notice_for_an_uncovered_year(db):
    me = factories.actor("admin")
    text = NOTICE_2026.replace("2026", "2027")
    catalog_admin.import_notice(me, text)
    cal = catalog.calendar()
    assert not cal.is_workday(dt.date(2027, 10, 1)) and cal.is_workday(dt.date(2027, 10, 10))
    assert catalog_admin.covered(2027)
    assert _events("2027") == ["calendar.changed"]


def test_runtime_settings(db):
    me = factories.actor("admin")
    with pytest.raises(ValidationError, match="5 到 480"):
        config.update(me, {"session_minutes": "1"})
    with pytest.raises(ValidationError, match="HH:MM"):
        config.update(me, {"work_start": "8点"})
    with pytest.raises(PermissionDenied):
        config.update(factories.actor("auditor"), {"session_minutes": "40"})
    config.update(me, {"work_start": "09:00", "work_end": "18:00"})
    assert catalog.calendar().work_start == dt.time(9, 0)
    assert config.live().work_end == "18:00"
    entry = (
        AuditEntry.select()
        .where(AuditEntry.event == "config.changed")
        .order_by(AuditEntry.seq.desc())
        .first()
    )
    assert entry.details["work_start"] == {"from": "08:30", "to": "09:00"}
    config.update(me, {"work_start": "08:30"})  # back to node.toml's value: the row goes
    assert not config.listing()[3]["overridden"]
