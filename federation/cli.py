"""Command-line entry points of the federation subsystem (node/cli.py calls `register_cli`)."""

from __future__ import annotations

import click


def register_cli(group: click.Group) -> None:
    """Add `hotline admin ...` and `hotline serve-federation` to the node's CLI."""
    from admin.keys import register_cli as register_admin

    register_admin(group)
    group.add_command(serve_federation)


@click.command("serve-federation")
def serve_federation() -> None:
    """只运行联网服务进程（gRPC，双向 TLS）。"""
    import logging

    from federation.service import serve

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s federation %(levelname)s %(message)s")
    settings = click.get_current_context().find_root().obj.bind()
    serve(settings, ready=lambda port, mport: click.echo(f"联网服务已启动：端口 {port}，指标端口 {mport}"))
