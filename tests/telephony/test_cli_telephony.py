"""`hotline telephony enroll-agent` as an operator runs it: the SIP password is shown once, stored
only as HA1 and exported to Kamailio's credentials table; bad input is refused in Chinese."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tests.test_cli import hotline


def test_enroll_agent_sets_a_sip_password_and_exports_it(tmp_path: Path) -> None:
    home = tmp_path / "node"
    hotline("init", "--level", "city", "--region", "320100", str(home))
    hotline("-c", str(home), "migrate")
    hotline("-c", str(home), "create-user", "zhang", "--role", "agent", "--password", "secret-123")
    out = hotline("-c", str(home), "telephony", "enroll-agent", "zhang", "8001").stdout
    assert "zhang → 分机 8001（认证域 hotline12328）" in out
    password = re.search(r"SIP 密码：(\S+)（只显示这一次", out).group(1)  # type: ignore[union-attr]
    table = (home / "run" / "telephony" / "dbtext" / "subscriber").read_text()
    ha1 = hashlib.md5(f"8001:hotline12328:{password}".encode()).hexdigest()
    assert f"1:8001:hotline12328::{ha1}:" in table and password not in table

    chosen = hotline(
        "-c", str(home), "telephony", "enroll-agent", "zhang", "8001", "--password", "my-sip-pass"
    )
    assert "SIP 密码" not in chosen.stdout  # an operator-chosen password is not echoed
    ha1 = hashlib.md5(b"8001:hotline12328:my-sip-pass").hexdigest()
    assert f":8001:hotline12328::{ha1}:" in (home / "run" / "telephony" / "dbtext" / "subscriber").read_text()

    short = hotline(
        "-c", str(home), "telephony", "enroll-agent", "zhang", "8001", "--password", "x", check=False
    )
    assert short.returncode != 0 and "SIP 密码长度应为8到64位" in short.stderr
    nobody = hotline("-c", str(home), "telephony", "enroll-agent", "nobody", "8002", check=False)
    assert nobody.returncode != 0 and "用户不存在：nobody" in nobody.stderr
