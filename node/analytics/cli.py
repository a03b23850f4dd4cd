"""`hotline import orders`: historical import (node/analytics/importer.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def register_cli(group: click.Group) -> None:
    @group.group("import")
    def import_group() -> None:
        """导入历史数据。"""

    @import_group.command("orders")
    @click.option(
        "--file",
        "file",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="CSV（可为 .csv.gz）或 Excel 文件",
    )
    @click.option(
        "--mapping",
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="映射文件（TOML）",
    )
    @click.option("--check", is_flag=True, help="只校验，不导入")
    @click.option("--strict", is_flag=True, help="有任何一行被拒绝时不导入")
    @click.option(
        "--report", type=click.Path(dir_okay=False, path_type=Path), help="把被拒绝的行写入此 CSV 文件"
    )
    @click.pass_obj
    def import_orders(
        ctx: Any, file: Path, mapping: Path, check: bool, strict: bool, report: Path | None
    ) -> None:
        """从旧系统导入历史工单（可重复运行：已导入的工单不会重复导入）。"""
        from node import db
        from node.analytics import importer

        settings = ctx.bind()
        with db.connection(), click.progressbar(length=0, label="读取与校验", show_pos=True) as bar:
            result = importer.run(
                file, mapping, me=settings.region, check_only=check, strict=strict, progress=bar.update
            )
        click.echo(importer.report_text(result))
        if report:
            report.write_text(importer.report_csv(result), encoding="utf-8")
            click.echo(f"拒绝明细已写入 {report}")
        if check:
            click.echo("仅校验，未导入。")
        elif strict and result.rejected_count:
            click.echo("有被拒绝的行（--strict），未导入任何数据。")
            raise SystemExit(1)
        else:
            click.echo(f"用时 {result.seconds:.1f} 秒，{result.rate:,.0f} 行/秒")
