"""Roles and their permissions. Services check permissions; views only hide what is refused."""

from __future__ import annotations

ROLES: dict[str, str] = {
    "agent": "话务员",
    "shift_leader": "班长",
    "dispatcher": "派单员",
    "reviewer": "审核员",
    "unit_staff": "承办人",
    "knowledge_editor": "知识编辑",
    "supervisor": "监控员",
    "admin": "管理员",
    "auditor": "审计员",
}

_AGENT = {
    "contact.create",
    "contact.view",
    "order.create",
    "order.view_all",
    "order.edit",
    "order.answer",
    "order.submit",
    "order.merge",
    "order.note",
    "order.callback",
    "pii.view",
    "knowledge.view",
    "recording.listen_own",
}
_REVIEWER = {
    "contact.view",
    "order.view_all",
    "order.edit",
    "order.review",
    "order.reject",
    "order.merge",
    "order.split",
    "order.reply.review",
    "order.close",
    "order.note",
    "order.urge",
    "order.callback",
    "knowledge.view",
    "recording.listen",
}
_DISPATCHER = {
    "contact.view",
    "order.view_all",
    "order.dispatch",
    "order.withdraw",
    "order.return.decide",
    "order.split",
    "order.merge",
    "order.urge",
    "order.note",
    "order.transfer",
    "order.extension.decide",
    "order.reject",
    "order.close",
    "knowledge.view",
    "recording.listen",
}
_UNIT = {
    "order.view_unit",
    "order.sign",
    "order.return",
    "order.reply",
    "order.extension.request",
    "order.note",
    "knowledge.view",
}

PERMISSIONS: dict[str, frozenset[str]] = {
    "agent": frozenset(_AGENT),
    "reviewer": frozenset(_REVIEWER),
    "dispatcher": frozenset(_DISPATCHER),
    "shift_leader": frozenset(
        _AGENT
        | _REVIEWER
        | _DISPATCHER
        | {"order.approve", "order.reopen", "order.archive", "stats.view", "monitor.view", "appraisal.view"}
    ),
    "unit_staff": frozenset(_UNIT),
    "knowledge_editor": frozenset({"knowledge.view", "knowledge.edit", "knowledge.review", "order.view_all"}),
    "supervisor": frozenset(
        {
            "order.view_all",
            "contact.view",
            "order.urge",
            "stats.view",
            "monitor.view",
            "appraisal.view",
            "knowledge.view",
            "recording.listen",
        }
    ),
    "admin": frozenset(
        {
            "catalog.manage",
            "user.manage",
            "node.manage",
            "order.view_all",
            "contact.view",
            "stats.view",
            "monitor.view",
            "audit.view",
            "knowledge.view",
            "order.archive",
        }
    ),
    "auditor": frozenset({"audit.view", "order.view_all", "contact.view", "stats.view", "recording.listen"}),
}

ALL_PERMISSIONS: frozenset[str] = frozenset().union(*PERMISSIONS.values())


def permissions_for(roles: list[str] | tuple[str, ...]) -> frozenset[str]:
    perms: set[str] = set()
    for role in roles:
        perms |= PERMISSIONS.get(role, frozenset())
    return frozenset(perms)
