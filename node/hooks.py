"""The work-order engine's hooks, installed together by any process that changes orders.

Each module wires itself into `node.workflow.service.ON_CHANGE` (and the intake and search hooks)
with an idempotent `install()`; the web app and the worker install them through their views and
jobs. A process that changes orders outside those two (the demo data, a command-line tool) calls
`install_all` so its orders get what the live node gives them: a callback sampling decision and
citizen notices at closure, deadline supervision, routing, the federation outbox, call links and
search tokens. The order here is the web app's (the order of `node.app.VIEW_MODULES`).
"""

from __future__ import annotations

from node.settings import Settings


def install_all(settings: Settings | None = None) -> None:
    from federation import flows
    from node.followup import service as followup
    from node.followup import supervision
    from node.outbox import service as outbox
    from node.routing import service as routing
    from node.telephony import service as telephony
    from node.text import service as text

    telephony.register_hooks()
    followup.install()
    supervision.install()
    outbox.install()
    text.install(settings)
    routing.install()
    flows.install()
