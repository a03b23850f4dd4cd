"""Run one test node's federation server in this process: `nodeproc.py HOME serve`.

Set-up that a real deployment does with migrations and `hotline admin` (tables, trusted keys,
peers) is read from HOME/trust.json; then the production entry point `federation.service.serve`
runs and prints `READY <port> <metrics_port>` once it listens.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from federation import trust
from federation.models import MODELS, NodeKey
from federation.v1 import federation_pb2 as pb
from node import clock
from node import db as node_db
from node import settings as node_settings


def prepare(settings: node_settings.Settings) -> None:
    node_db.bind(settings.database_url)
    with node_db.connection():
        node_db.database.create_tables(MODELS, safe=True)
        spec = json.loads((settings.home / "trust.json").read_text())
        for key in spec["keys"]:
            if NodeKey.get_or_none(NodeKey.key_id == key["key_id"]) is None:
                row = trust.record_key(
                    pb.PublicKey(
                        key_id=key["key_id"], node=key["node"], public_key=bytes.fromhex(key["public_key"])
                    ),
                    source="self" if key["own"] else "enrolment",
                )
                if key["own"]:
                    row.valid_from_ms = clock.to_epoch_ms(clock.now()) - 60_000
                    row.save()
        for peer in spec["peers"]:
            trust.add_peer(peer["region"], settings.region, address=peer["address"])


def main() -> None:
    home, command = Path(sys.argv[1]), sys.argv[2]
    settings = node_settings.load(home / "node.toml")
    prepare(settings)
    if command == "serve":
        from federation.service import serve

        def ready(port: int, metrics_port: int | None) -> None:
            print(f"READY {port} {metrics_port or 0}", flush=True)

        serve(settings, ready=ready)
    else:
        raise SystemExit(f"未知命令：{command}")


if __name__ == "__main__":
    main()
