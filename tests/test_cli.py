"""The `hotline` command line: init, migrate, users, demo data and refusals, as an operator runs them."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def hotline(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "node.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    if check:
        assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_init_migrate_users_and_demo(tmp_path: Path) -> None:
    home = tmp_path / "suzhou"
    out = hotline("init", "--level", "city", "--region", "320500", str(home)).stdout
    assert "苏州市交通运输服务监督热线" in out
    config = tomllib.loads((home / "node.toml").read_text())
    assert config["node"] == {"region": "320500", "level": "city", "name": "苏州市交通运输服务监督热线"}
    # the telephony section is written out, commented, sized for a 30-seat centre
    tel = config["telephony"]
    assert (tel["engines"], tel["callers_per_engine"], tel["busy_announcer"]) == (20, 2, True)
    assert "# 呼叫引擎进程数" in (home / "node.toml").read_text()
    from node import settings as node_settings
    from node.telephony import config as tconfig

    assert tconfig.load(node_settings.load(home)).capacity == 40
    assert (home / "keys" / "data.key").stat().st_mode & 0o077 == 0
    migrated = hotline("-c", str(home), "migrate").stdout
    assert "已应用迁移" in migrated and "lexicon_entries" in migrated
    assert "已是最新" in hotline("-c", str(home), "migrate").stdout
    out = hotline(
        "-c",
        str(home),
        "create-user",
        "zhang",
        "--role",
        "agent",
        "--name",
        "张三",
        "--password",
        "secret-123",
    ).stdout
    assert "已创建用户 zhang" in out
    again = hotline(
        "-c", str(home), "create-user", "zhang", "--role", "agent", "--password", "secret-123", check=False
    )
    assert again.returncode == 2 and "用户名已存在" in again.stderr
    bad_role = hotline(
        "-c", str(home), "create-user", "li", "--role", "boss", "--password", "secret-123", check=False
    )
    assert bad_role.returncode == 2 and "未知角色" in bad_role.stderr
    assert "工单 12 件" in hotline("-c", str(home), "demo-data", "--orders", "12").stdout
    token = hotline("-c", str(home), "issue-token", "zhang").stdout.strip()
    assert token.startswith("hl_")
    # automatic categorisation: which categoriser is live, retraining refused without history
    assert "sub_business：现用 关键词规则（词表第1版）" in hotline("-c", str(home), "text", "models").stdout
    assert "不足50条" in hotline("-c", str(home), "text", "train", "--kind", "sub_business").stdout
    missing = hotline("-c", str(home), "text", "activate", "sub_business", "3", check=False)
    assert missing.returncode != 0 and "模型不存在" in missing.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--level", "city", "--region", "320000"], "市级节点"),
        (["--level", "province", "--region", "320100"], "省级节点"),
        (["--level", "ministry", "--region", "110000"], "000000"),
        (["--level", "city", "--region", "32A100"], "6位数字"),
    ],
)
def test_init_refuses_inconsistent_identity(tmp_path: Path, args: list[str], message: str) -> None:
    done = hotline("init", *args, str(tmp_path / "n"), check=False)
    assert done.returncode == 2 and message in done.stderr
    assert not (tmp_path / "n" / "node.toml").exists()


def test_commands_explain_a_missing_config(tmp_path: Path) -> None:
    done = hotline("-c", str(tmp_path / "nowhere"), "migrate", check=False)
    assert done.returncode == 2 and "hotline init" in done.stderr
    assert "--level" in hotline("init", "--help").stdout


def test_init_with_admin_makes_a_fresh_node_with_code_tables_and_nothing_else(tmp_path: Path) -> None:
    import datetime as dt

    from node import db, pii
    from node import settings as node_settings
    from node.auth.models import User
    from node.catalog import service as catalog
    from node.catalog.models import Domain, ReasonCode, SubBusiness, Unit
    from node.workflow.models import WorkOrder

    home = tmp_path / "wuxi"
    out = hotline(
        "init",
        "--level",
        "city",
        "--region",
        "320200",
        "--admin",
        "root",
        "--admin-password",
        "s3cret-pass",
        str(home),
    ).stdout
    assert "已创建管理员 root" in out and "下一步" in out and "hotline -c" in out and "run" in out
    assert "migrate" not in out.split("下一步")[1]  # already done
    s = node_settings.load(home)
    node_settings.configure(s)
    pii.configure(s.data_key)
    database = db.bind(s.database_url)
    try:
        with db.connection():
            catalog.invalidate()
            assert Domain.select().count() >= 10 and SubBusiness.select().count() > 40
            assert ReasonCode.select().where(ReasonCode.kind == "subject").count() > 5
            assert [u.username for u in User.select()] == ["root"]
            assert Unit.select().count() == 0 and WorkOrder.select().count() == 0
            cal = catalog.calendar()
            assert not cal.is_workday(dt.date(2026, 10, 1)) and cal.is_workday(dt.date(2026, 10, 10))  # 调休
    finally:
        database.close()


def test_demo_data_loads_beside_the_administrator_init_created(tmp_path: Path) -> None:
    """`hotline init --admin admin` then demo data: the demo loads (it once skipped itself because an
    account named admin existed) and keeps the operator's administrator and password."""
    from node import db, pii
    from node import settings as node_settings
    from node.auth import service as auth
    from node.auth.models import User
    from node.catalog.models import Unit
    from node.workflow.models import WorkOrder

    home = tmp_path / "nj"
    args = ["--level", "city", "--region", "320100", "--admin", "admin", "--admin-password", "own-pass-1"]
    hotline("init", *args, str(home))
    out = hotline("-c", str(home), "demo-data", "--orders", "8").stdout
    assert "用户 12 个" in out and "工单 8 件" in out and "已有账号保留原密码：admin" in out
    assert "演示数据已存在" in hotline("-c", str(home), "demo-data", "--orders", "8").stdout
    s = node_settings.load(home)
    node_settings.configure(s)
    pii.configure(s.data_key)
    database = db.bind(s.database_url)
    try:
        with db.connection():
            assert Unit.select().where(Unit.code == "CZC").exists()
            assert User.select().where(User.username == "agent1").exists()
            assert auth.authenticate("admin", "own-pass-1") is not None
            # the demo orders went through the live node's hooks: closures were sampled for callback
            from node.followup.models import VisitTask

            closed = WorkOrder.select().where(WorkOrder.state.in_(["closed", "answered", "visited"])).count()
            assert closed and VisitTask.select().count() == closed
    finally:
        database.close()


def test_init_without_a_terminal_asks_for_the_identity(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "node.cli", "init", str(tmp_path / "n")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert done.returncode == 2 and "--level" in done.stderr
