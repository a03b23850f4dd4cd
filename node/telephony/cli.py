"""`hotline telephony ...` commands: run an engine, generate prompts and Kamailio's config,
seed menus, enrol agents, recover after a crash, purge expired recordings."""

from __future__ import annotations

from typing import Any

import click


def register_cli(group: click.Group) -> None:
    group.add_command(telephony)


def _ctx_settings(ctx: click.Context, bind: bool) -> Any:
    node_ctx = ctx.find_root().obj
    return node_ctx.bind() if bind else node_ctx.settings()


@click.group()
def telephony() -> None:
    """电话系统：呼叫引擎、语音提示、Kamailio 配置。"""


@telephony.command("serve-engine")
@click.option("--index", type=int, default=0, help="引擎序号（0 起）")
@click.pass_context
def serve_engine(ctx: click.Context, index: int) -> None:
    """运行一个呼叫引擎进程（直到收到 SIGTERM）。"""
    import logging

    from node.telephony import engine

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    engine.serve(_ctx_settings(ctx, bind=False), index)


@telephony.command("gen-prompts")
@click.pass_context
def gen_prompts(ctx: click.Context) -> None:
    """生成全部语音提示（espeak-ng + sox，8 kHz）；custom/ 下的录音文件优先。"""
    from node.db import connection
    from node.telephony import config as tconfig
    from node.telephony import ivr, service
    from node.telephony.prompts import PromptLibrary

    settings = _ctx_settings(ctx, bind=True)
    lib = PromptLibrary(tconfig.load(settings).prompts_dir)
    with connection():
        menus = service.load_menus()
    prompts = ivr.all_prompts(menus)
    for p in prompts:
        lib.ensure(p)
    lib.hold_music()
    click.echo(f"已生成 {len(prompts)} 条语音提示和等待音乐：{lib.root}")


@telephony.command("kamailio-config")
@click.pass_context
def kamailio_config(ctx: click.Context) -> None:
    """写出 kamailio.cfg 和 dispatcher.list。"""
    from node.telephony import config as tconfig
    from node.telephony import kamailio

    cfg = tconfig.load(_ctx_settings(ctx, bind=False))
    click.echo(str(kamailio.write_config(cfg)))


@telephony.command("seed-menus")
@click.pass_context
def seed_menus(ctx: click.Context) -> None:
    """写入默认语音导航菜单（已有菜单时不覆盖）。"""
    from node.db import connection
    from node.telephony import service

    _ctx_settings(ctx, bind=True)
    with connection():
        n = service.install_default_menus()
    click.echo(f"写入 {n} 个菜单" if n else "菜单已存在，未修改")


@telephony.command("enroll-agent")
@click.argument("username")
@click.argument("extension")
@click.option("--password", default="", help="软电话的 SIP 密码（不填则随机生成并显示一次）")
@click.pass_context
def enroll_agent(ctx: click.Context, username: str, extension: str, password: str) -> None:
    """为用户设置坐席分机号和 SIP 密码（软电话在 Kamailio 注册时须通过摘要认证）。"""
    import secrets

    from node.auth.models import User
    from node.auth.service import SYSTEM
    from node.db import connection
    from node.errors import NotFound
    from node.telephony import config as tconfig
    from node.telephony import kamailio, service

    settings = _ctx_settings(ctx, bind=True)
    cfg = tconfig.load(settings)
    generated = not password
    password = password or secrets.token_urlsafe(9)
    with connection():
        user = User.get_or_none(User.username == username)
        if user is None:
            raise NotFound(f"用户不存在：{username}")
        agent = service.enroll_agent(SYSTEM, user.id, extension, password=password, realm=cfg.sip_realm)
        kamailio.sync_credentials(cfg)
    click.echo(f"{username} → 分机 {agent.extension}（认证域 {cfg.sip_realm}）")
    if generated:
        click.echo(f"SIP 密码：{password}（只显示这一次，请配置到坐席的软电话）")


@telephony.command("recover")
@click.argument("engine_name")
@click.pass_context
def recover(ctx: click.Context, engine_name: str) -> None:
    """把异常退出引擎的通话关闭为异常中断，修复或标记其录音。"""
    from node.db import connection
    from node.telephony import config as tconfig
    from node.telephony import service

    settings = _ctx_settings(ctx, bind=True)
    with connection():
        counts = service.recover_engine(engine_name, tconfig.load(settings).recordings_dir)
    click.echo(
        f"关闭通话 {counts['calls']} 个，处理录音 {counts['recordings']} 个（标记异常 {counts['flagged']} 个）"
    )


@telephony.command("purge-recordings")
@click.pass_context
def purge_recordings(ctx: click.Context) -> None:
    """删除超过保留期限的录音文件。"""
    from node.db import connection
    from node.telephony import config as tconfig
    from node.telephony import service

    settings = _ctx_settings(ctx, bind=True)
    with connection():
        n = service.purge_expired_recordings(tconfig.load(settings).recordings_dir)
    click.echo(f"清除录音 {n} 个")
