"""The audit log's details as an auditor reads them: Chinese labels, 是/否, role and unit names
instead of a Python repr (`roles=['agent']; unit_id=None`). The stored JSON is unchanged (the
hash chain covers it) and the CSV export keeps it verbatim beside this reading."""

from __future__ import annotations

from typing import Any

LABELS: dict[str, str] = {
    "action": "操作",
    "active": "启用",
    "after": "修改后",
    "articles": "条目数",
    "before": "修改前",
    "code": "编码",
    "comment": "说明",
    "contact": "联系方式",
    "created": "新建",
    "criteria": "条件",
    "days": "天数",
    "days_off": "休息日",
    "decision": "决定",
    "device": "受信任设备",
    "display_name": "姓名",
    "effective_from": "生效日期",
    "event": "事件",
    "expires_at": "到期时间",
    "failures": "失败次数",
    "fields": "字段",
    "file": "文件",
    "filename": "文件名",
    "format": "格式",
    "from": "起",
    "items": "项目",
    "kind": "类别",
    "matches": "匹配数",
    "migrations": "迁移",
    "name": "名称",
    "note": "备注",
    "options": "选项",
    "order_number": "工单号",
    "orders": "工单数",
    "owner": "归属",
    "parent": "上级",
    "password": "密码",
    "period": "期间",
    "permissions": "权限",
    "plan": "计划",
    "points": "分值",
    "population": "考核对象",
    "prefix": "前缀",
    "reason": "理由",
    "recording": "录音",
    "region": "区划",
    "result": "结果",
    "roles": "角色",
    "rows": "行数",
    "scheduled": "定时",
    "scope": "数据范围",
    "seconds": "秒数",
    "sessions": "会话数",
    "sha256": "SHA-256",
    "share": "比例",
    "size": "大小",
    "staff": "人员",
    "subject": "对象",
    "successor": "接替",
    "title": "标题",
    "to": "止",
    "token_id": "令牌编号",
    "tokens": "令牌数",
    "total": "总数",
    "unit": "承办单位",
    "unit_id": "承办单位",
    "upheld": "成立",
    "username": "用户名",
    "version": "版本",
    "via": "方式",
    "workdays": "工作日",
}


def label(key: str) -> str:
    return LABELS.get(key, key)


def value(key: str, v: Any) -> str:
    if v is None or v == "" or v == []:
        return "无"
    if isinstance(v, bool):
        return "是" if v else "否"
    if key == "roles" and isinstance(v, list):
        from node.auth.roles import role_name

        return "、".join(role_name(str(r)) for r in v)
    if key == "unit_id" and isinstance(v, int):
        from node.catalog.models import Unit

        unit = Unit.get_or_none(Unit.id == v)
        return unit.name if unit is not None else f"#{v}"
    if isinstance(v, list):
        return "、".join(value("", x) for x in v)
    if isinstance(v, dict):
        return "，".join(f"{label(k)}：{value(k, x)}" for k, x in v.items())
    return str(v)


def describe(details: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, text) pairs in the stored order."""
    return [(label(k), value(k, v)) for k, v in (details or {}).items()]


def text(details: dict[str, Any] | None) -> str:
    return "；".join(f"{k}：{v}" for k, v in describe(details))
