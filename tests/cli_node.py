"""CLI tests on a node directory of their own: `hotline` with every subsystem's commands (as
`node.cli.main()` registers them) and `hotline init` run in-process."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

ADMIN_PASSWORD = "Admin12345!x"


def hotline() -> click.Group:
    """The node's CLI group with the subsystems' commands (import, admin …) registered once."""
    from node.cli import CLI_EXTENSIONS, cli, optional_modules

    if "admin" not in cli.commands:
        for module in optional_modules(CLI_EXTENSIONS):
            module.register_cli(cli)
    return cli


def init_node(runner: CliRunner, home: Path, region: str = "320100", level: str = "city") -> None:
    """`hotline init` a node without telephony at `home` (SQLite), admin `admin`."""
    result = runner.invoke(
        hotline(),
        [
            *("init", str(home), "--level", level, "--region", region, "--no-telephony"),
            *("--admin", "admin", "--admin-password", ADMIN_PASSWORD),
        ],
    )
    assert result.exit_code == 0, result.output
