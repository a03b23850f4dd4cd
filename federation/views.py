"""REST endpoints of the federation subsystem: rollups with drill-down, the order records received
from the subtree, cross-region transfer links, an on-demand daily report push, the knowledge
bulletins received from above and the spot checks sent below with their timeliness.

`init_app(app)` registers the blueprint (node/app.py lists this module in VIEW_MODULES) and hooks
the business flows into the work-order engine of the web process.
"""

from __future__ import annotations

from typing import Annotated, Any

from flask import Blueprint, Flask, current_app, jsonify, request
from pydantic import Field

from node.api.routing import arg_int, json_body, route
from node.auth import web
from node.errors import ValidationError
from node.validation import Input, parse

bp = Blueprint("federation", __name__, url_prefix="/api/v1/federation")
DATE = r"^\d{4}-\d{2}-\d{2}$"


def init_app(app: Flask) -> None:
    from federation import flows

    flows.install()
    app.register_blueprint(bp)


@bp.before_request
def _csrf() -> None:
    web.check_csrf(request.headers.get(web.CSRF_HEADER))


def _me() -> str:
    return str(current_app.config["NODE"].region)


def _date_arg() -> str:
    value = request.args.get("date", "")
    if not value:
        raise ValidationError("缺少参数 date（YYYY-MM-DD）", details={"date": "必填"})
    return value


@route(
    bp,
    "/rollup",
    "GET",
    "某日汇总（本节点全辖区或指定区划，可逐级下钻）",
    "联网",
    query={"date": "日期 YYYY-MM-DD（必填）", "region": "区划代码（默认本节点）"},
)
def rollup() -> Any:
    from federation import reports

    web.current_actor().require("stats.view")
    return jsonify(reports.rollup(_me(), _date_arg(), request.args.get("region") or None))


@route(
    bp,
    "/orders",
    "GET",
    "下级节点报送的工单记录（不含来电人信息）",
    "联网",
    query={"date": "受理日期", "region": "区划代码前缀", "page": "页码", "page_size": "每页条数"},
)
def remote_orders() -> Any:
    from federation import records

    web.current_actor().require("stats.view")
    page, size = arg_int("page", 1), arg_int("page_size", 50, 1, 200)
    items, total = records.list_records(_me(), _date_arg(), request.args.get("region") or None, page, size)
    return jsonify({"items": items, "total": total, "page": page, "page_size": size})


@route(bp, "/transfers/<number>", "GET", "工单的跨区域转办记录", "联网")
def transfers(number: str) -> Any:
    from federation import records

    web.current_actor().require("order.view_all")
    return jsonify({"items": records.transfer_links(number)})


class ReportPush(Input):
    date: Annotated[str, Field(pattern=DATE)]


@route(
    bp, "/reports", "POST", "立即生成并报送本节点某日日报（按需补报）", "联网", body=ReportPush, status=202
)
def push_report() -> Any:
    from federation import reports

    web.current_actor().require("node.manage")
    data = parse(ReportPush, json_body())
    report = reports.generate(_me(), reports.parse_date(data.date))
    return jsonify({"node": report.node, "date": report.report_date, "revision": report.revision}), 202


@route(
    bp,
    "/bulletins",
    "GET",
    "上级下发的知识通报（本节点发布的也在内）",
    "联网",
    query={"category": "类别", "withdrawn": "1 = 含已撤回", "limit": "条数（1–500）"},
)
def bulletins() -> Any:
    from federation import downward

    web.current_actor().require("knowledge.view")
    items = downward.list_bulletins(
        category=request.args.get("category") or None,
        include_withdrawn=request.args.get("withdrawn") == "1",
        limit=arg_int("limit", 100, 1, 500),
    )
    return jsonify({"items": items})


@route(
    bp,
    "/spot-checks",
    "GET",
    "本节点下发的抽检工单及下级办理时效",
    "联网",
    query={"target": "被抽检节点", "limit": "条数（1–500）"},
)
def spot_checks() -> Any:
    from federation import downward

    web.current_actor().require("stats.view")
    items = downward.list_spot_checks(
        _me(), request.args.get("target") or None, limit=arg_int("limit", 200, 1, 500)
    )
    return jsonify({"items": items, "summary": downward.spot_check_summary(items)})
