"""The telephony processes `hotline run` starts: Kamailio and the engine pool."""

from __future__ import annotations

import sys

from node import db
from node.settings import Settings
from node.supervisor import ProcSpec
from node.telephony import config as tconfig
from node.telephony import kamailio


def specs(config: str, cfg: tconfig.TelephonyConfig) -> list[ProcSpec]:
    """Writes kamailio.cfg (so the supervisor can start it) and lists Kamailio + one spec per engine
    (the pool, then the busy announcer)."""
    engine = [sys.executable, "-m", "node.telephony.engine", "--config", config, "--index"]
    return [ProcSpec("kamailio", kamailio.kamailio_argv(cfg, kamailio.write_config(cfg)))] + [
        ProcSpec(cfg.engine_name(i), [*engine, str(i)]) for i in range(cfg.processes)
    ]


def process_specs(config: str, settings: Settings) -> list[ProcSpec]:
    """`specs` of an enabled node, after exporting the agents' SIP credentials for Kamailio (the
    worker's telephony_sync job keeps them current)."""
    cfg = tconfig.load(settings)
    if not cfg.enabled:
        return []
    result = specs(config, cfg)
    db.bind(settings.database_url)
    with db.connection():
        kamailio.sync_credentials(cfg)
    return result
