"""`hotline audit verify`: check the audit chain (exit code 1 when it is broken)."""

from __future__ import annotations

import sys
from typing import Any

import click


def register_cli(group: click.Group) -> None:
    @group.group("audit")
    def audit_group() -> None:
        """审计日志。"""

    @audit_group.command("verify")
    @click.pass_obj
    def verify(ctx: Any) -> None:
        """逐条核对审计日志的哈希链；链条断裂时退出码为 1。"""
        from node import db
        from node.audit import service

        ctx.bind()
        with db.connection():
            verdict = service.verify()
        if verdict.ok:
            click.echo(f"审计日志完整：共 {verdict.count} 条，末条哈希 {verdict.last_hash}")
            return
        click.echo(
            f"审计日志链条断裂：{verdict.reason}（此前 {verdict.count} 条完好，末条完好哈希 {verdict.last_hash}）",
            err=True,
        )
        sys.exit(1)
