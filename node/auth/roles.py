"""Roles and their permissions. Services check permissions; views only hide what is refused."""

from __future__ import annotations

ROLES: dict[str, str] = {
    "agent": "话务员",
    "shift_leader": "班长",
    "dispatcher": "派单员",
    "reviewer": "审核员",
    "unit_staff": "承办人",
    "unit_leader": "单位负责人",
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
    "appraisal.own",
}

PERMISSIONS: dict[str, frozenset[str]] = {
    "agent": frozenset(_AGENT | {"appraisal.own"}),
    "reviewer": frozenset(_REVIEWER),
    "dispatcher": frozenset(_DISPATCHER),
    "shift_leader": frozenset(
        _AGENT
        | _REVIEWER
        | _DISPATCHER
        | {
            "order.approve",
            "order.reopen",
            "order.archive",
            "stats.view",
            "stats.topics",
            "monitor.view",
            "appraisal.view",
            "appraisal.manage",
            "qa.inspect",
        }
    ),
    "unit_staff": frozenset(_UNIT),
    # receives 督办 escalated to level 2 (node/followup/supervision.py) besides the unit's work
    "unit_leader": frozenset(_UNIT),
    "knowledge_editor": frozenset({"knowledge.view", "knowledge.edit", "knowledge.review", "order.view_all"}),
    "supervisor": frozenset(
        {
            "order.view_all",
            "contact.view",
            "order.urge",
            "stats.view",
            "stats.topics",
            "monitor.view",
            "appraisal.view",
            "qa.inspect",
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
            "stats.topics",
            "monitor.view",
            "audit.view",
            "knowledge.view",
            "order.archive",
            "appraisal.view",
            "appraisal.scheme",
        }
    ),
    "auditor": frozenset({"audit.view", "order.view_all", "contact.view", "stats.view", "recording.listen"}),
}

# Data scope (数据范围) of a role: which orders its holder sees. Each scope is one view permission;
# a user with several roles sees the widest. "own" is only reachable through an administrator's role.
SCOPES: dict[str, str] = {"own": "本人受理的工单", "unit": "本单位承办的工单", "node": "本节点全部工单"}
SCOPE_PERMISSIONS: dict[str, str] = {
    "own": "order.view_own",
    "unit": "order.view_unit",
    "node": "order.view_all",
}

ALL_PERMISSIONS: frozenset[str] = frozenset().union(*PERMISSIONS.values(), SCOPE_PERMISSIONS.values())

# Administrator-defined roles in force in this process (node.auth.admin keeps them current from the
# Role table): code → (name, permissions).
CUSTOM: dict[str, tuple[str, frozenset[str]]] = {}


def permissions_for(roles: list[str] | tuple[str, ...]) -> frozenset[str]:
    perms: set[str] = set()
    for role in roles:
        perms |= PERMISSIONS.get(role) or CUSTOM.get(role, ("", frozenset()))[1]
    return frozenset(perms)


def role_name(code: str) -> str:
    return ROLES.get(code) or CUSTOM.get(code, (code, frozenset()))[0]


def scope_of(permissions: frozenset[str] | set[str]) -> str:
    """The widest data scope these permissions give ("" when they show no orders)."""
    for scope in ("node", "unit", "own"):
        if SCOPE_PERMISSIONS[scope] in permissions:
            return scope
    return ""


# Every permission with what it allows, for the role editor (the data scopes are chosen apart).
PERMISSION_LABELS: dict[str, str] = {
    "contact.create": "受理来电来信（坐席工作台）",
    "contact.view": "查看受理记录",
    "order.create": "新建工单",
    "order.edit": "修改工单内容",
    "order.answer": "即时答复",
    "order.submit": "提交审核",
    "order.review": "审核工单",
    "order.approve": "审批工单",
    "order.dispatch": "分派工单",
    "order.withdraw": "撤回工单",
    "order.return.decide": "处理退回申请",
    "order.sign": "签收工单",
    "order.return": "退回工单（承办单位）",
    "order.reply": "回复办理结果",
    "order.reply.review": "复核办理结果",
    "order.extension.request": "申请延期",
    "order.extension.decide": "审批延期",
    "order.close": "办结工单",
    "order.callback": "回访",
    "order.reopen": "重办",
    "order.archive": "归档",
    "order.reject": "不予受理",
    "order.merge": "合并重复工单",
    "order.split": "拆分工单",
    "order.transfer": "转办外地",
    "order.urge": "催办",
    "order.note": "添加备注",
    "pii.view": "查看来电人完整号码",
    "recording.listen": "收听录音",
    "knowledge.view": "查阅知识库",
    "knowledge.edit": "编辑知识",
    "knowledge.review": "审核知识",
    "stats.view": "查看统计分析",
    "stats.topics": "维护专题报告（关键词专题）",
    "monitor.view": "运行监控",
    "appraisal.view": "查看绩效考核（全部排名与成绩）",
    "appraisal.own": "查看本人/本单位考核成绩与质检，提出申诉",
    "appraisal.manage": "考核评分、调整、发布与申诉处理",
    "appraisal.scheme": "维护考核方案与质检评分表",
    "qa.inspect": "通话质检（抽样、评分）",
    "audit.view": "查看审计日志",
    "catalog.manage": "维护代码表、承办单位、时限与日历",
    "user.manage": "管理用户与角色",
    "node.manage": "维护运行参数、语音导航与备份",
}
ASSIGNABLE: frozenset[str] = frozenset(PERMISSION_LABELS)
