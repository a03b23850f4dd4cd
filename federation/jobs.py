"""Worker jobs of the federation subsystem (node/jobs/worker.py reads `jobs(settings)`)."""

from __future__ import annotations

from typing import Any

_senders: dict[str, Any] = {}


def jobs(settings: Any) -> list[Any]:
    """Push the outbox and apply the inbox every 2 seconds, generate every finished day's report not
    generated yet (missed days included) every 10 minutes, and remove envelopes past their
    retention every hour, once the node is enrolled."""
    from federation.pki import enrolled
    from node.jobs.worker import Job

    if not enrolled(settings.keys_dir):
        return []

    def push_and_apply(now: Any) -> dict[str, Any]:
        from federation.service import make_sender, worker_pass

        sender = _senders.get(settings.region)
        if sender is None:
            sender = _senders[settings.region] = make_sender(settings)
        return worker_pass(settings, sender)

    def purge(now: Any) -> dict[str, int]:
        from federation import retention

        return retention.purge(settings.federation_retention_days, settings.federation_failed_retention_days)

    def daily_reports(now: Any) -> list[str]:
        from federation import flows, reports

        flows.install()
        return [d.isoformat() for d in reports.catch_up(settings.region, now.date())]

    return [
        Job("federation_push", push_and_apply, "interval", {"seconds": 2}),
        Job("federation_daily_report", daily_reports, "interval", {"minutes": 10}),
        Job("federation_purge", purge, "interval", {"hours": 1}),
    ]
