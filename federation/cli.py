"""Command-line entry points of the federation subsystem (node/cli.py calls `register_cli`).

Nothing heavy is imported until a command runs: `hotline --help` and the node's other commands
start without loading gRPC, the trust store or the business flows (measured with
`python -X importtime`; `make bench` prints the start-up time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


class AdminGroup(click.Group):
    """`hotline admin`, whose commands (admin/keys.py and those below) load on first use."""

    def __init__(self) -> None:
        super().__init__("admin", help="运维管理：密钥、证书、节点登记、对端、联网队列、日报与下发。")
        self._real: click.Group | None = None

    def _group(self) -> click.Group:
        if self._real is None:
            from admin.keys import admin

            for command in (report_cmd, monthly_form_cmd, rollup_cmd, bulletin_cmd, spot_check_cmd):
                admin.add_command(command)
            self._real = admin
        return self._real

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._group().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._group().get_command(ctx, name)


def _install_flows(settings: Any) -> None:
    """Every command that touches the node's data queues federation messages for its order changes."""
    from federation import flows

    flows.install()


def register_cli(group: click.Group) -> None:
    """Add `hotline admin ...` and `hotline serve-federation` to the node's CLI."""
    from node.cli import ON_BIND

    if _install_flows not in ON_BIND:
        ON_BIND.append(_install_flows)
    group.add_command(AdminGroup())
    group.add_command(serve_federation)


@click.command("serve-federation")
def serve_federation() -> None:
    """只运行联网服务进程（gRPC，双向 TLS）。"""
    import logging

    from federation.service import serve

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s federation %(levelname)s %(message)s")
    settings = click.get_current_context().find_root().obj.bind()
    serve(settings, ready=lambda port, mport: click.echo(f"联网服务已启动：端口 {port}，指标端口 {mport}"))


@click.command("report")
@click.option("--date", "day", required=True, help="报表日期 YYYY-MM-DD")
@click.option("--no-send", is_flag=True, help="只生成本节点日报，不向上级报送")
def report_cmd(day: str, no_send: bool) -> None:
    """立即生成（重新生成）本节点某日的日报并报送上级（按需补报）。"""
    from federation import reports
    from node.db import connection

    settings = click.get_current_context().find_root().obj.bind()
    with connection():
        report = reports.generate(settings.region, reports.parse_date(day), send=not no_send)
    total = sum(c.value for c in report.counts if c.metric == "accepted")
    where = "已排队报送上级" if not no_send and settings.level != "ministry" else "已保存"
    click.echo(
        f"{settings.region} {report.report_date} 日报（修订 {report.revision}）：{len(report.counts)} 项计数，受理 {total} 件，{where}"
    )


@click.command("monthly-form")
@click.option("--month", required=True, help="月份 YYYY-MM（须已结束）")
@click.option("--no-send", is_flag=True, help="只生成本节点月报表，不向上级报送")
def monthly_form_cmd(month: str, no_send: bool) -> None:
    """立即重新生成本节点某月的统计报表（附件A）并报送上级（补报、重报；新修订替换旧的）。"""
    from node import clock
    from node.analytics import jobs, periods
    from node.db import connection
    from node.errors import ValidationError

    settings = click.get_current_context().find_root().obj.bind()
    period = periods.parse_period(month)
    if period.kind != "month":
        raise ValidationError(f"应为年-月，如 2026-11：{month}", details={"month": "格式有误"})
    if period.end > clock.today():
        raise ValidationError(
            f"{period.label}尚未结束，月报表须在月份结束后生成", details={"month": "未结束"}
        )
    with connection():
        path = jobs.write_form(settings, period, send=not no_send)
    where = "已排队报送上级" if not no_send and settings.level != "ministry" else "已保存"
    click.echo(f"{settings.region} {period.label}统计报表：{path}，{where}")


@click.command("rollup")
@click.option("--date", "day", required=True, help="汇总日期 YYYY-MM-DD")
@click.option("--region", default=None, help="区划（默认本节点全辖区）：部 000000、省 xx0000、市 xxxx00")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
def rollup_cmd(day: str, region: str | None, as_json: bool) -> None:
    """显示本节点及下级节点某日的汇总数据（可按区划逐级下钻）。"""
    import json

    from federation import reports
    from node.db import connection

    settings = click.get_current_context().find_root().obj.bind()
    with connection():
        data = reports.rollup(settings.region, day, region)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    totals = data["totals"]
    click.echo(
        f"{data['region']}（{LEVEL_NAMES[data['level']]}）{data['date']} 汇总，已报送节点 {len(data['nodes_reported'])} 个"
    )
    from node.analytics.engine import INDICATORS, MEASURES

    for metric in ("accepted", "instant_answered", "closed", "closed_due", "closed_on_time", "legs_offered"):
        click.echo(f"  {MEASURES[metric].label}：{totals.get(metric, 0)}")
    for name, value in data["indicators"].items():
        if value is not None:
            click.echo(f"  {INDICATORS[name].label}：{value}")
    click.echo("下级：")
    for child in data["children"]:
        mark = "本级" if child["own"] else ("已报送" if child["reported"] else "未报送")
        click.echo(
            f"  {child['region']} {mark} 受理 {child['totals'].get('accepted', 0)} 办结 {child['totals'].get('closed', 0)}"
        )


@click.command("bulletin")
@click.option(
    "--to", "scope", default=None, help="下发范围：all（本节点全部下级）或区划代码（省 xx0000、市 xxxx00）"
)
@click.option("--title", default=None, help="标题")
@click.option("--body", default=None, help="正文")
@click.option(
    "--body-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="从文件读取正文（UTF-8）",
)
@click.option("--category", default="", help="类别，如 政策法规、业务流程、常见问题")
@click.option("--tag", "tags", multiple=True, help="标签（可多次）")
@click.option("--effective-date", default=None, help="生效日期 YYYY-MM-DD")
@click.option("--valid-until", default=None, help="有效期至 YYYY-MM-DD（含当日）")
@click.option("--withdraw", "withdraw_id", default=None, help="撤回本节点发布的通报（通报编号）")
@click.option("--list", "show", is_flag=True, help="列出本节点的知识通报（收到的和发布的）")
@click.option("--all", "include_withdrawn", is_flag=True, help="列出时包含已撤回的")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出列表")
def bulletin_cmd(
    scope: str | None,
    title: str | None,
    body: str | None,
    body_file: Path | None,
    category: str,
    tags: tuple[str, ...],
    effective_date: str | None,
    valid_until: str | None,
    withdraw_id: str | None,
    show: bool,
    include_withdrawn: bool,
    as_json: bool,
) -> None:
    """下发知识通报（部、省），撤回已发布的通报，或列出本节点的通报。"""
    import datetime as dt
    import json

    from federation import downward
    from federation.reports import parse_date
    from node.db import connection
    from node.errors import ValidationError

    settings = click.get_current_context().find_root().obj.bind()
    me = settings.region
    with connection():
        if show:
            items = downward.list_bulletins(include_withdrawn=include_withdrawn)
            if as_json:
                click.echo(json.dumps(items, ensure_ascii=False, indent=2))
                return
            click.echo(f"知识通报 {len(items)} 条")
            for b in items:
                mark = "（已撤回）" if b["withdrawn"] else ""
                via = "" if b["origin"] == b["issuer"] else f"，经 {b['origin']}"
                click.echo(
                    f"  {b['bulletin_id']} [{b['category'] or '未分类'}] {b['title']}{mark}"
                    f" —— 发布 {b['issuer']}{via}，范围 {b['scope']}，生效 {b['effective_date'] or '即日'}"
                )
            return
        if withdraw_id:
            row = downward.withdraw_bulletin(me, withdraw_id)
            click.echo(f"已撤回知识通报 {row.bulletin_id}（修订 {row.revision}），已排队通知下级")
            return
        if not scope:
            raise ValidationError("请用 --to 指定下发范围（all 或区划代码），或用 --list 查看通报")
        if body_file is not None:
            body = body_file.read_text(encoding="utf-8")
        until = None
        if valid_until:
            until = dt.datetime.combine(parse_date(valid_until), dt.time(23, 59, 59))
        row = downward.publish_bulletin(
            me,
            me if scope == "all" else scope,
            title=title or "",
            body=body or "",
            category=category,
            tags=list(tags),
            effective_date=parse_date(effective_date) if effective_date else None,
            valid_until=until,
        )
    click.echo(f"知识通报 {row.bulletin_id} 已排队下发（范围 {row.scope}）：{row.title}")


@click.command("spot-check")
@click.option("--to", "target", default=None, help="被抽检的下级节点（省 xx0000、市 xxxx00）")
@click.option(
    "--type",
    "business_type",
    type=click.Choice(["1", "2", "3"]),
    default="1",
    help="业务类型：1 投诉举报 2 信息咨询 3 意见建议",
)
@click.option("--domain", default="", help="业务领域代码，如 01 公路、03 道路运输")
@click.option("--sub-business", default="", help="业务子类代码，如 0301")
@click.option("--channel", default="01", show_default=True, help="受理渠道代码")
@click.option("--region-code", default=None, help="事发地区划代码（默认：被抽检节点）")
@click.option("--title", default="", help="标题（默认取诉求首行）")
@click.option("--content", default=None, help="诉求内容")
@click.option("--caller-name", default="", help="来电人称呼（抽检员）")
@click.option("--phone", default="", help="联系电话（抽检员，用于回访）")
@click.option("--address", default="", help="事发地址")
@click.option("--respondent", default="", help="被投诉单位")
@click.option("--plate", default="", help="车牌号")
@click.option("--due-hours", type=float, default=None, help="办结期限（小时）；默认按被抽检节点自身时限")
@click.option("--instructions", default="", help="抽检说明（随工单下发）")
@click.option("--list", "show", is_flag=True, help="列出本节点下发的抽检工单及办理时效")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出列表")
def spot_check_cmd(
    target: str | None,
    business_type: str,
    domain: str,
    sub_business: str,
    channel: str,
    region_code: str | None,
    title: str,
    content: str | None,
    caller_name: str,
    phone: str,
    address: str,
    respondent: str,
    plate: str,
    due_hours: float | None,
    instructions: str,
    show: bool,
    as_json: bool,
) -> None:
    """向下级节点下发抽检工单（部、省），或列出已下发抽检工单的办理时效。"""
    import datetime as dt
    import json

    from federation import downward
    from node import clock
    from node.db import connection
    from node.errors import ValidationError

    settings = click.get_current_context().find_root().obj.bind()
    me = settings.region
    with connection():
        if show:
            items = downward.list_spot_checks(me, target)
            summary = downward.spot_check_summary(items)
            if as_json:
                click.echo(json.dumps({"items": items, "summary": summary}, ensure_ascii=False, indent=2))
                return
            click.echo(
                "抽检工单 {total} 件：已办结 {closed}，按时 {on_time}，超时办结 {late}，"
                "逾期未办结 {overdue}，被拒收 {refused}".format(**summary)
            )
            for c in items:
                timing = {True: "按时", False: "超时"}.get(c["on_time"], "逾期" if c["overdue"] else "")
                click.echo(
                    f"  {c['check_id']} → {c['target']} {c['order_number'] or '（未接收）'} "
                    f"{SPOT_STATUS.get(c['status'], c['status'])} {timing} 期限 {c['due_at'] or '-'} {c['title']}"
                )
            return
        if not target:
            raise ValidationError("请用 --to 指定被抽检节点，或用 --list 查看抽检工单")
        if due_hours is not None and due_hours <= 0:
            raise ValidationError("--due-hours 必须大于 0")
        due_at = clock.now() + dt.timedelta(hours=due_hours) if due_hours else None
        row = downward.send_spot_check(
            me,
            target,
            {
                "business_type": business_type,
                "domain": domain,
                "sub_business": sub_business,
                "channel": channel,
                "region_code": region_code or target,
                "title": title,
                "content": content or "",
                "caller_name": caller_name,
                "contact_phone": phone,
                "address": address,
                "respondent_name": respondent,
                "respondent_plate": plate,
            },
            due_at=due_at,
            instructions=instructions,
            issued_by="命令行",
        )
    click.echo(f"抽检工单 {row.check_id} 已排队下发至 {row.target}：{row.title}")


SPOT_STATUS = {
    "sent": "已下发",
    "accepted": "已接收",
    "refused": "被拒收",
    "signed": "已签收",
    "replied": "已回复",
    "closed": "已办结",
}
LEVEL_NAMES = {"ministry": "部级", "province": "省级", "city": "市级"}
