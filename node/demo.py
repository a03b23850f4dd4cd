"""Demo data for a fresh node: a unit tree, one user per role (password demo12328), and orders
spread over the whole flow, all created through the real services."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from node import hooks
from node.auth import service as auth
from node.auth.models import User
from node.catalog import service as catalog
from node.catalog.models import Region, Unit
from node.settings import Settings
from node.workflow import service
from node.workflow.models import WorkOrder

DEMO_PASSWORD = "demo12328"

UNITS = [
    ("JTJ", "交通运输局", None),
    ("KYC", "客运管理处", "JTJ"),
    ("GLC", "公路事业发展中心", "JTJ"),
    ("GHC", "港航事业发展中心", "JTJ"),
    ("CZC", "出租汽车管理所", "KYC"),
    ("GJJT", "公交集团", "KYC"),
    ("DTYY", "地铁运营公司", "KYC"),
    ("ZFZD", "交通运输综合行政执法支队", "JTJ"),
]

USERS = [
    ("agent1", "王晓燕", ["agent"], None),
    ("agent2", "李明", ["agent"], None),
    ("leader", "张建国", ["shift_leader"], None),
    ("dispatch", "刘芳", ["dispatcher"], None),
    ("review", "陈静", ["reviewer"], None),
    ("taxi", "赵磊（出租汽车管理所）", ["unit_staff"], "CZC"),
    ("bus", "孙丽（公交集团）", ["unit_staff"], "GJJT"),
    ("road", "周强（公路中心）", ["unit_staff"], "GLC"),
    ("editor", "吴敏", ["knowledge_editor"], None),
    ("editor2", "何静（知识审核）", ["knowledge_editor"], None),
    ("monitor", "郑伟", ["supervisor"], None),
    ("admin", "系统管理员", ["admin"], None),
    ("audit", "审计员", ["auditor"], None),
]

SAMPLES = [
    (
        "1",
        "04",
        "0403",
        "CZC",
        "出租车拒载",
        "晚上在火车站打车，出租车司机拒载，说不顺路，车牌号苏A·T1234，要求处理。",
        "苏AT1234",
    ),
    (
        "1",
        "04",
        "0403",
        "CZC",
        "网约车绕路多收费",
        "乘坐网约车从新街口到南京南站，司机绕路，多收费30元，已保留行程截图。",
        "",
    ),
    (
        "1",
        "04",
        "0401",
        "GJJT",
        "公交车不按站停靠",
        "65路公交车在中山门站不停车，乘客等了二十分钟，司机态度也很差。",
        "苏A12345",
    ),
    ("2", "04", "0402", "DTYY", "地铁末班车时间", "请问地铁2号线末班车几点，周末是否延长运营？", ""),
    ("2", "01", "0106", "GLC", "高速公路收费咨询", "货车走绕城高速如何收费，ETC有没有优惠？", ""),
    (
        "3",
        "04",
        "0401",
        "GJJT",
        "建议增加公交线路",
        "建议在江北新区新建小区附近增设公交线路，早晚高峰出行不便。",
        "",
    ),
    ("1", "01", "0107", "GLC", "国道路面坑洼", "312国道某路段路面坑洼严重，夜间行车危险，希望尽快修补。", ""),
    (
        "1",
        "03",
        "0305",
        "ZFZD",
        "汽车维修乱收费",
        "在某汽修厂更换刹车片，收费明显高于市场价，且未提供结算清单。",
        "",
    ),
    ("2", "03", "0306", "ZFZD", "驾校培训咨询", "驾校学时不足能否预约考试？培训费退费标准是什么？", ""),
    (
        "1",
        "02",
        "0201",
        "GHC",
        "轮渡班次取消未通知",
        "今天上午轮渡班次临时取消，现场没有任何通知，很多乘客滞留。",
        "",
    ),
]


# The main path of an order, as (state reached, who acts, action, body). `who` is the role walk()
# asks its `actors` for; the dispatch body is filled with the lead unit. Demo data, tests and
# benchmarks take their orders along it.
MAIN_PATH: list[tuple[str, str, str, dict[str, Any]]] = [
    ("pending_review", "agent", "submit", {}),
    ("pending_dispatch", "reviewer", "review", {}),
    ("dispatched", "dispatcher", "dispatch", {}),
    ("handling", "unit", "sign", {}),
    (
        "replied",
        "unit",
        "reply",
        {
            "basic": "经调查，反映情况基本属实。",
            "process": "已约谈相关企业和当事人，责令整改。",
            "basis": "依据《巡游出租汽车经营服务管理规定》等有关规定处理。",
        },
    ),
    ("reviewed", "reviewer", "accept_reply", {}),
    ("closed", "reviewer", "close", {}),
    ("visited", "agent", "callback", {"result_satisfaction": "1", "service_satisfaction": "2"}),
    ("archived", "shift_leader", "archive", {}),
]
PATH_STATES = ["accepted", *(target for target, *_ in MAIN_PATH)]


def walk(
    order: WorkOrder,
    stop: str,
    actors: Callable[[str], auth.Actor],
    lead_unit: str,
    bodies: dict[str, dict[str, Any]] | None = None,
) -> WorkOrder:
    """Take `order` from its state along MAIN_PATH through the real engine until it is in `stop`;
    `bodies` replaces the path's body of an action."""
    if stop not in PATH_STATES or order.state not in PATH_STATES:
        raise ValueError(f"no path from {order.state} to {stop}")
    for _target, who, action, body in MAIN_PATH[PATH_STATES.index(order.state) :]:
        if order.state == stop:
            break
        if action == "dispatch":
            body = {"lead_unit": lead_unit}
        order = service.perform(actors(who), order.number, action, (bodies or {}).get(action, body))
    if order.state != stop:
        raise ValueError(f"no path from {order.state} to {stop}")
    return order


def load_demo(settings: Settings, orders: int = 60) -> list[str]:
    if Unit.select().where(Unit.code == UNITS[0][0]).exists():
        return ["演示数据已存在，跳过"]
    hooks.install_all(settings)  # the demo orders get what the live node gives orders (callback sampling …)
    region = settings.region
    counties = [r.code for r in Region.select().where(Region.parent_code == region).limit(8)] or [region]
    for code, name, parent in UNITS:
        prefix = catalog.region_name(region) if region != "000000" else ""
        catalog.create_unit(
            code=code,
            name=f"{prefix}{name}",
            region_code=region,
            parent_code=parent,
            phone="025-8888" + str(abs(hash(code)) % 10000).zfill(4),
            contacts=[{"name": "值班联络员", "phone": "13900000000", "position": "联络员"}],
        )
    users: dict[str, auth.Actor] = {}
    kept: list[str] = []
    for username, display, roles, unit_code in USERS:
        existing = User.get_or_none(User.username == username)
        if existing is not None:  # e.g. the administrator `hotline init --admin admin` created: kept as it is
            users[username] = auth.actor_for(existing)
            kept.append(username)
            continue
        unit_id = Unit.get(Unit.code == unit_code).id if unit_code else None
        user = auth.create_user(
            username=username, display_name=display, password=DEMO_PASSWORD, roles=roles, unit_id=unit_id
        )
        users[username] = auth.actor_for(user)
    seats = _enroll_softphones(settings, users)
    unit_staff = {"CZC": "taxi", "GJJT": "bus", "GLC": "road"}
    rng = random.Random(12328)
    stops = [
        "accepted",
        "pending_review",
        "pending_dispatch",
        "dispatched",
        "handling",
        "replied",
        "closed",
        "visited",
        "answered",
    ]
    made = 0
    for i in range(orders):
        btype, domain, sub, unit, title, content, plate = SAMPLES[i % len(SAMPLES)]
        stop = (
            stops[rng.randrange(len(stops))] if btype != "2" else rng.choice(["answered", "pending_dispatch"])
        )
        body = {
            "channel": rng.choice(["01", "01", "01", "02", "03"]),
            "business_type": btype,
            "domain": domain,
            "sub_business": sub,
            "region_code": rng.choice(counties),
            "title": title,
            "content": content,
            "caller_phone": f"139{rng.randrange(10**8):08d}",
            "caller_name": rng.choice(["王先生", "李女士", "张先生"]),
            "respondent_plate": plate,
            "submit": False,
            "immediate_answer": "已告知来电人相关规定和办理渠道。" if stop == "answered" else "",
        }
        agent = users[rng.choice(["agent1", "agent2"])]
        order = service.create_order(agent, body)
        made += 1
        if stop in ("answered", "accepted"):
            continue
        staff = users.get(unit_staff.get(unit, ""), None)
        lead_unit = unit if staff else "CZC"
        by_role = {
            "agent": agent,
            "reviewer": users["review"],
            "dispatcher": users["dispatch"],
            "unit": staff or users["taxi"],
        }
        callback = {"result_satisfaction": rng.choice("1122223"), "service_satisfaction": rng.choice("11222")}
        walk(order, stop, by_role.__getitem__, lead_unit, {"callback": callback})
    created = len(USERS) - len(kept)
    return [
        f"已创建承办单位 {len(UNITS)} 个、用户 {created} 个（密码 {DEMO_PASSWORD}）、工单 {made} 件",
        *seats,
        "用户：" + "，".join(f"{u}({'/'.join(r)})" for u, _, r, _ in USERS if u not in kept),
        *([f"已有账号保留原密码：{'，'.join(kept)}"] if kept else []),
    ]


def _enroll_softphones(settings: Settings, users: dict[str, auth.Actor]) -> list[str]:
    """Give the demo agents SIP extensions so softphones can register at the node's Kamailio."""
    from node.telephony import config as tconfig
    from node.telephony import kamailio
    from node.telephony import service as telephony

    cfg = tconfig.load(settings)
    if not cfg.enabled:
        return []
    lines = []
    for username, ext in (("agent1", "8001"), ("agent2", "8002")):
        user_id = users[username].user_id
        assert user_id is not None
        telephony.enroll_agent(auth.SYSTEM, user_id, ext, password=DEMO_PASSWORD, realm=cfg.sip_realm)
        lines.append(
            f"坐席分机 {ext}（{username}）：软电话注册 sip:{ext}@{cfg.sip_host}:{cfg.sip_port}，"
            f"认证域 {cfg.sip_realm}，密码 {DEMO_PASSWORD}；拨打 {cfg.service_number} 进入语音导航"
        )
    kamailio.sync_credentials(cfg)
    return lines
