"""Node settings: the only reader of the config file and of environment variables.

A node is a directory holding `node.toml` plus its data (`data/`), keys (`keys/`),
recordings and run-time files. `hotline init` writes one; `load()` reads it.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from node.errors import ValidationError

Level = Literal["ministry", "province", "city"]
LEVELS: dict[str, str] = {"ministry": "部级", "province": "省级", "city": "市级"}
CONFIG_ENV = "HOTLINE_CONFIG"


@dataclass(frozen=True)
class Peer:
    """Another node this one talks to: its parent or one of its children."""

    region: str
    address: str = ""
    name: str = ""


@dataclass(frozen=True)
class Settings:
    region: str
    level: Level
    name: str
    home: Path
    database_url: str
    secret_key: str
    data_key: bytes
    web_host: str = "127.0.0.1"
    web_port: int = 8328
    web_workers: int = 2
    federation_host: str = "127.0.0.1"
    federation_port: int = 50328
    metrics_port: int = 9328
    parent: Peer | None = None
    children: tuple[Peer, ...] = ()
    work_start: str = "08:30"
    work_end: str = "17:30"
    session_minutes: int = 30
    session_max_hours: int = 12
    token_max_days: int = 365
    trusted_proxies: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def recordings_dir(self) -> Path:
        return self.home / "recordings"

    @property
    def level_name(self) -> str:
        return LEVELS[self.level]

    def section(self, name: str) -> dict[str, Any]:
        """A config section for a subsystem that owns its own keys (e.g. telephony)."""
        value = self.extra.get(name, {})
        return value if isinstance(value, dict) else {}


REGION_RE = re.compile(r"^\d{6}$")


def check_region_for_level(region: str, level: str) -> None:
    if not REGION_RE.match(region):
        raise ValidationError(f"行政区划代码必须为6位数字：{region!r}")
    if level not in LEVELS:
        raise ValidationError(f"节点级别必须是 ministry/province/city 之一：{level!r}")
    if level == "ministry" and region != "000000":
        raise ValidationError("部级节点的区划代码必须为 000000")
    if level == "province" and (region[2:] != "0000" or region == "000000"):
        raise ValidationError(f"省级节点的区划代码应形如 xx0000：{region}")
    if level == "city" and (region[4:] != "00" or region[2:4] == "00"):
        raise ValidationError(f"市级节点的区划代码应形如 xxxx00：{region}")


def _peer(raw: dict[str, Any]) -> Peer:
    return Peer(region=str(raw["region"]), address=str(raw.get("address", "")), name=str(raw.get("name", "")))


def load(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read a node's `node.toml` (argument, else $HOTLINE_CONFIG, else ./node.toml)."""
    config_path = Path(path or os.environ.get(CONFIG_ENV) or "node.toml").resolve()
    if config_path.is_dir():
        config_path = config_path / "node.toml"
    if not config_path.exists():
        raise ValidationError(f"找不到节点配置文件：{config_path}（先运行 hotline init）")
    with config_path.open("rb") as fh:
        raw = tomllib.load(fh)
    home = config_path.parent
    node = raw.get("node", {})
    region, level = str(node.get("region", "")), str(node.get("level", ""))
    check_region_for_level(region, level)
    db_url = str(raw.get("database", {}).get("url", "sqlite:///data/node.db"))
    if db_url.startswith("sqlite:///") and not db_url.startswith("sqlite:////"):
        db_url = "sqlite:///" + str(home / db_url[len("sqlite:///") :])
    db_url = os.environ.get("HOTLINE_DATABASE_URL", db_url)
    keys = home / "keys"
    secret_key = _read_secret(keys / "session.key")
    data_key = _read_secret(keys / "data.key").encode()
    web = raw.get("web", {})
    fed = raw.get("federation", {})
    work = raw.get("work_hours", {})
    known = {"node", "database", "web", "federation", "work_hours"}
    return Settings(
        region=region,
        level=level,  # type: ignore[arg-type]
        name=str(node.get("name", region)),
        home=home,
        database_url=db_url,
        secret_key=secret_key,
        data_key=data_key,
        web_host=str(web.get("host", "127.0.0.1")),
        web_port=int(web.get("port", 8328)),
        web_workers=int(web.get("workers", 2)),
        session_minutes=int(web.get("session_minutes", 30)),
        session_max_hours=int(web.get("session_max_hours", 12)),
        token_max_days=int(web.get("token_max_days", 365)),
        trusted_proxies=int(web.get("trusted_proxies", 0)),
        federation_host=str(fed.get("host", "127.0.0.1")),
        federation_port=int(fed.get("port", 50328)),
        metrics_port=int(fed.get("metrics_port", 9328)),
        parent=_peer(fed["parent"]) if fed.get("parent") else None,
        children=tuple(_peer(c) for c in fed.get("children", [])),
        work_start=str(work.get("start", "08:30")),
        work_end=str(work.get("end", "17:30")),
        extra={k: v for k, v in raw.items() if k not in known},
    )


def _read_secret(path: Path) -> str:
    if not path.exists():
        raise ValidationError(f"缺少密钥文件：{path}（运行 hotline init 生成）")
    return path.read_text().strip()


def for_tests(
    home: Path, database_url: str, region: str = "320100", level: Level = "city", **kw: Any
) -> Settings:
    """Settings without a config file, for tests and benchmarks."""
    from cryptography.fernet import Fernet

    return Settings(
        region=region,
        level=level,
        name=kw.pop("name", f"测试节点{region}"),
        home=home,
        database_url=database_url,
        secret_key=kw.pop("secret_key", "test-secret"),
        data_key=kw.pop("data_key", Fernet.generate_key()),
        **kw,
    )


_current: Settings | None = None


def configure(settings: Settings) -> None:
    """Make `settings` the node's settings for this process (app factory, worker, CLI)."""
    global _current
    _current = settings


def current() -> Settings:
    if _current is None:
        raise RuntimeError("node settings not configured: call node.settings.configure() first")
    return _current
