"""deploy/ is checked by the tools that will run it: systemd-analyze, nginx -t, promtool, logrotate."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from node import settings as node_settings
from node.telephony import config as tconfig

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        pytest.fail(f"缺少 {name}：运行 scripts/setup.sh（deploy/apt-packages.txt）")
    return path


def _run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=120)


def test_systemd_units_verify_clean(tmp_path):
    node = tmp_path / "node"
    (node / "keys" / "federation").mkdir(parents=True)
    units = sorted(p for p in (DEPLOY / "systemd").iterdir() if p.suffix in (".service", ".target"))
    assert {p.name for p in units} >= {
        "hotline-migrate.service",
        "hotline-web.service",
        "hotline-worker.service",
        "hotline-federation.service",
        "hotline-engine@.service",
        "hotline-kamailio.service",
        "hotline.target",
    }
    for unit in units:
        text = unit.read_text().replace("/opt/hotline", str(ROOT)).replace("/srv/hotline/node", str(node))
        (tmp_path / unit.name).write_text(text)
        if unit.suffix == ".service":
            assert "NoNewPrivileges=yes" in text and "ProtectSystem=strict" in text, unit.name
    (tmp_path / "hotline-engine@0.service").write_text((tmp_path / "hotline-engine@.service").read_text())
    names = [p.name for p in units if "@." not in p.name] + ["hotline-engine@0.service"]
    done = _run(_tool("systemd-analyze"), "verify", "--man=no", *names, cwd=tmp_path)
    # systemd-analyze exits 0 on unknown keys; any message is a defect
    assert done.returncode == 0 and done.stderr.strip() == "" and done.stdout.strip() == "", done.stderr


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hotline.test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(2020, 1, 1))
        .not_valid_after(dt.datetime(2040, 1, 1))
        .sign(key, hashes.SHA256())
    )
    c, k = tmp_path / "cert.pem", tmp_path / "key.pem"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return c, k


def test_nginx_config_is_valid(tmp_path):
    cert, key = _self_signed(tmp_path)
    (tmp_path / "logs").mkdir()
    text = (DEPLOY / "nginx" / "hotline.conf").read_text()
    assert "proxy_buffering off" in text and "/stream/" in text and "ssl_certificate" in text
    text = (
        text.replace("/etc/ssl/hotline/fullchain.pem", str(cert))
        .replace("/etc/ssl/hotline/privkey.pem", str(key))
        .replace("/var/log/nginx", str(tmp_path / "logs"))
    )
    (tmp_path / "hotline.conf").write_text(text)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\nevents {{}}\n"
        f"http {{ include /etc/nginx/mime.types; access_log off; include {tmp_path}/hotline.conf; }}\n"
    )
    done = _run(
        _tool("nginx"),
        "-t",
        "-p",
        str(tmp_path),
        "-c",
        str(tmp_path / "nginx.conf"),
        "-e",
        str(tmp_path / "logs/e.log"),
    )
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_prometheus_config_and_rules(tmp_path):
    promtool = _tool("promtool")
    done = _run(promtool, "check", "config", "prometheus.yml", cwd=DEPLOY / "prometheus")
    assert done.returncode == 0, done.stdout + done.stderr
    done = _run(promtool, "check", "rules", "node.rules.yml", cwd=DEPLOY / "prometheus")
    assert done.returncode == 0 and "7 rules found" in done.stdout, done.stdout + done.stderr
    done = _run(promtool, "test", "rules", "node.rules.test.yml", cwd=DEPLOY / "prometheus")
    assert done.returncode == 0, done.stdout + done.stderr
    rules = (DEPLOY / "prometheus" / "node.rules.yml").read_text()
    for alert in (
        "HotlineNodeDown",
        "HotlineOverdueBacklog",
        "HotlineDiskSpaceLow",
        "HotlineCertificateExpiring",
        "HotlineBackupMissing",
    ):
        assert f"alert: {alert}" in rules
    federation = (
        DEPLOY / "prometheus" / "federation.rules.yml"
    ).read_text()  # outbox, federation certificates
    assert (
        "alert: FederationOutboxStuck" in federation
        and "alert: FederationTlsCertificateExpiring" in federation
    )


def test_logrotate_config(tmp_path):
    text = (DEPLOY / "logrotate" / "hotline").read_text().replace("hotline hotline", "root root")
    (tmp_path / "hotline").write_text(text)
    done = _run(_tool("logrotate"), "-d", "-s", str(tmp_path / "state"), str(tmp_path / "hotline"))
    assert done.returncode == 0 and "error" not in done.stderr.lower(), done.stderr


@pytest.mark.parametrize("level", ["city", "province", "ministry"])
def test_production_examples_load(tmp_path, level):
    home = tmp_path / level
    (home / "keys").mkdir(parents=True)
    (home / "keys" / "session.key").write_text("x" * 40)
    (home / "keys" / "data.key").write_text("A" * 43 + "=")
    shutil.copy(DEPLOY / "examples" / f"{level}.toml", home / "node.toml")
    s = node_settings.load(home)
    assert s.level == level and s.trusted_proxies == 1
    assert s.section("metrics")["allow"] and s.section("backup")["dir"]
    tconfig.load(s)  # the telephony section is valid where present
