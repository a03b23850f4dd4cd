"""A separate process hammering one database: used by the race tests.

python -m tests.integration.race_worker URL create COUNT
python -m tests.integration.race_worker URL review NUMBER[,NUMBER...]
python -m tests.integration.race_worker URL audit COUNT
Prints one JSON line with what it did.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from node import db, pii
from node import settings as node_settings
from node.errors import Conflict
from node.workflow import service
from tests import factories


def setup(url: str) -> None:
    s = node_settings.for_tests(Path("/tmp"), url, data_key=os.environ["RACE_DATA_KEY"].encode())
    node_settings.configure(s)
    pii.configure(s.data_key)
    db.bind(url)


def main() -> None:
    url, mode, arg = sys.argv[1], sys.argv[2], sys.argv[3]
    setup(url)
    with db.connection():
        if mode == "create":
            agent = factories.actor("agent")
            numbers = [
                service.create_order(agent, {**factories.ORDER_DEFAULTS, "submit": False}).number
                for _ in range(int(arg))
            ]
            print(json.dumps({"numbers": numbers}))
        elif mode == "review":
            who = factories.actor("reviewer")
            ok = refused = 0
            for number in arg.split(","):
                try:
                    service.perform(who, number, "review")
                    ok += 1
                except Conflict:  # InvalidTransition is a Conflict: somebody else got there first
                    refused += 1
            print(json.dumps({"ok": ok, "refused": refused}))
        elif mode == "audit":
            from node.audit import service as audit

            seqs = [
                audit.record(None, "auth.login_failed", actor_name=f"p{os.getpid()}", details={"i": i}).seq
                for i in range(int(arg))
            ]
            print(json.dumps({"seqs": seqs}))


if __name__ == "__main__":
    main()
