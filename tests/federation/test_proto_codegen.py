"""The checked-in generated code matches a fresh run of scripts/gen_proto.sh."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from federation.v1 import federation_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_is_current() -> None:
    run = subprocess.run(
        ["bash", "scripts/check_proto.sh"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
        timeout=120,
    )
    assert run.returncode == 0, run.stderr


def test_enums_start_unspecified() -> None:
    for enum in pb.DESCRIPTOR.enum_types_by_name.values():
        assert enum.values[0].number == 0 and enum.values[0].name.endswith("UNSPECIFIED"), enum.name
    for message in pb.DESCRIPTOR.message_types_by_name.values():
        for enum in message.enum_types:
            assert enum.values[0].number == 0 and enum.values[0].name.endswith("UNSPECIFIED"), enum.name
    assert pb.DESCRIPTOR.package == "federation.v1"
    assert set(pb.DESCRIPTOR.services_by_name["Federation"].methods_by_name) == {"Push", "PushStream"}
