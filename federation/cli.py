"""Command-line entry points of the federation subsystem (node/cli.py calls `register_cli`)."""

from __future__ import annotations

import click


def register_cli(group: click.Group) -> None:
    """Add `hotline admin ...` and `hotline serve-federation` to the node's CLI."""
    from admin.keys import admin
    from admin.keys import register_cli as register_admin
    from federation import flows

    flows.install()
    register_admin(group)
    admin.add_command(report_cmd)
    admin.add_command(rollup_cmd)
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
    for metric in ("accepted", "instant_answered", "closed", "due", "closed_on_time", "calls_in"):
        click.echo(f"  {METRIC_NAMES[metric]}：{totals.get(metric, 0)}")
    for name, value in data["indicators"].items():
        if value is not None:
            click.echo(f"  {INDICATOR_NAMES[name]}：{value}")
    click.echo("下级：")
    for child in data["children"]:
        mark = "本级" if child["own"] else ("已报送" if child["reported"] else "未报送")
        click.echo(
            f"  {child['region']} {mark} 受理 {child['totals'].get('accepted', 0)} 办结 {child['totals'].get('closed', 0)}"
        )


LEVEL_NAMES = {"ministry": "部级", "province": "省级", "city": "市级"}
METRIC_NAMES = {
    "accepted": "受理",
    "instant_answered": "即时答复",
    "closed": "办结",
    "due": "到期应办结",
    "closed_on_time": "按时办结",
    "calls_in": "呼入电话",
}
INDICATOR_NAMES = {
    "instant_answer_rate": "即时答复率",
    "closure_rate": "办结率",
    "on_time_rate": "限时办结率",
    "complaint_on_time_rate": "投诉举报限时办结率",
    "complaint_review_rate": "投诉举报复核率",
    "callback_rate": "回访率",
    "result_satisfaction": "处理满意率",
    "service_satisfaction": "回访满意率",
    "instant_satisfaction": "即时答复满意率",
    "rectification_rate": "差评整改率",
    "connection_rate": "人工接通率",
    "answered_10s_rate": "10秒内接通率",
    "avg_wait_seconds": "平均等待时长（秒）",
    "avg_wait_seconds_ivr": "平均等待时长（含语音导航，秒）",
}
