"""The telephony processes `hotline run` starts: Kamailio and the engine pool."""

from __future__ import annotations

import sys

from node import db
from node.settings import Settings
from node.supervisor import ProcSpec
from node.telephony import config as tconfig
from node.telephony import kamailio


def process_specs(config: str, settings: Settings) -> list[ProcSpec]:
    """Writes kamailio.cfg (so the supervisor can start it) and lists Kamailio + one spec per engine."""
    cfg = tconfig.load(settings)
    if not cfg.enabled:
        return []
    specs = [ProcSpec(s.name, s.argv, s.env) for s in kamailio.process_specs(settings)]
    # agents' SIP credentials for Kamailio (the worker's telephony_sync job keeps them current)
    db.bind(settings.database_url)
    with db.connection():
        kamailio.sync_credentials(cfg)
    for spec in specs[1:]:
        index = int(spec.argv[spec.argv.index("--index") + 1])
        spec.argv = [sys.executable, "-m", "node.telephony.engine", "--config", config, "--index", str(index)]
    return specs
