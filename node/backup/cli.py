"""`hotline backup` and `hotline restore`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def register_cli(group: click.Group) -> None:
    @group.command("backup")
    @click.pass_obj
    def backup(ctx: Any) -> None:
        """立即备份本节点（数据库、密钥、录音、附件），生成加密归档。"""
        from node import db
        from node.auth.service import SYSTEM
        from node.backup import service

        settings = ctx.bind()
        with db.connection():
            made = service.create(SYSTEM, settings)
        click.echo(
            f"已备份：{made.path}（工单 {made.orders} 件，{made.size_text}，校验 {made.checksum[:16]}…）"
        )

    @group.command("restore")
    @click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--key-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="备份所用节点的 data.key（默认本节点 keys/data.key）",
    )
    @click.option("--force", is_flag=True, help="目标数据库非空时仍覆盖（须先停止节点）")
    @click.option("--check", is_flag=True, help="只解密并核对清单，不恢复")
    @click.pass_obj
    def restore(ctx: Any, archive: Path, key_file: Path | None, force: bool, check: bool) -> None:
        """从备份归档恢复本节点（节点须已停止）；恢复后核对工单数量与校验值。"""
        from node import db
        from node import settings as node_settings
        from node.audit import service as audit
        from node.backup import service

        settings = ctx.settings()
        key = key_file.read_text().strip().encode() if key_file else settings.data_key
        if check:
            m = service.verify_archive(archive, key)
            click.echo(
                f"备份完好：{m['node']['name']}（{m['node']['region']}），{m['created_at']}，"
                f"工单 {m['orders']['count']} 件，文件 {len(m['files'])} 个"
            )
            return
        report = service.restore(archive, settings.home, settings.database_url, key, force=force)
        settings = node_settings.load(ctx.config)  # keys may have been restored
        ctx.bind()
        with db.connection():
            from node.migrate import upgrade

            applied = upgrade(db.database.obj)
            audit.record(
                None,
                "backup.restored",
                target=archive.name,
                actor_name="hotline restore",
                details={"orders": report.orders, "matches": report.matches, "migrations": applied},
            )
        m = report.manifest
        click.echo(
            f"已恢复 {m['node']['name']}（{m['created_at']} 的备份）：文件 {report.files} 个，"
            f"工单 {report.orders} 件" + (f"，迁移 {len(applied)} 个" if applied else "")
        )
        if not report.matches:
            raise click.ClickException(
                f"恢复后的工单与备份清单不符（清单 {m['orders']['count']} 件），请检查后再启动节点"
            )
        click.echo("工单数量与校验值与备份清单一致。可以启动节点：hotline run")
