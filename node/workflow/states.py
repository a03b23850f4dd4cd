"""Work-order states, their categories, and the one transition table.

Code asks `category(state)` (open / pending / closed), never compares state names for that.
`TRANSITIONS[action]` says from which states an action is allowed, where it leads by default,
and which permission it needs; the service computes the few targets that depend on context
(e.g. rejecting a return goes back to where the order was).
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN, PENDING, CLOSED = "open", "pending", "closed"
CATEGORY_NAMES = {OPEN: "待处理", PENDING: "办理中", CLOSED: "已结束"}

# state: (Chinese label, category)
STATES: dict[str, tuple[str, str]] = {
    "accepted": ("已受理", OPEN),
    "answered": ("即时答复", CLOSED),
    "pending_review": ("待审核", OPEN),
    "pending_approval": ("待审批", OPEN),
    "pending_dispatch": ("待分派", OPEN),
    "dispatched": ("已分派", PENDING),
    "handling": ("办理中", PENDING),
    "return_requested": ("退回待确认", OPEN),
    "replied": ("已回复", OPEN),
    "reviewed": ("已复核", OPEN),
    "closed": ("已办结", CLOSED),
    "visited": ("已回访", CLOSED),
    "archived": ("已归档", CLOSED),
    "rejected": ("不予受理", CLOSED),
    "merged": ("已合并", CLOSED),
    "split": ("已拆分", CLOSED),
    "transferred": ("已转外地", PENDING),
}

SAME = "="  # the action does not change the state


@dataclass(frozen=True)
class Transition:
    action: str
    label: str
    sources: frozenset[str]
    target: str
    permission: str
    needs_reason: bool = False


def _t(
    action: str, label: str, sources: str, target: str, permission: str, needs_reason: bool = False
) -> Transition:
    return Transition(action, label, frozenset(sources.split()), target, permission, needs_reason)


_EDITABLE = "accepted pending_review pending_approval pending_dispatch"
_ACTIVE = "dispatched handling return_requested replied reviewed"
_ALL = " ".join(STATES)

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in [
        _t("answer", "即时答复", "accepted", "answered", "order.answer"),
        _t("submit", "提交审核", "accepted", "pending_review", "order.submit"),
        _t("review", "审核通过", "pending_review", "pending_dispatch", "order.review"),
        _t("review_back", "审核退回", "pending_review", "accepted", "order.review", True),
        _t("approve", "审批通过", "pending_approval", "pending_dispatch", "order.approve"),
        _t("disapprove", "审批不通过", "pending_approval", "pending_review", "order.approve", True),
        _t("dispatch", "分派", "pending_dispatch", "dispatched", "order.dispatch"),
        _t("withdraw", "撤回", "dispatched", "pending_dispatch", "order.withdraw", True),
        _t("sign", "签收", "dispatched handling", "handling", "order.sign"),
        _t("return", "退回", "dispatched handling", "return_requested", "order.return", True),
        _t("accept_return", "同意退回", "return_requested", "pending_dispatch", "order.return.decide"),
        _t("reject_return", "驳回退回", "return_requested", "dispatched", "order.return.decide", True),
        _t("request_extension", "申请延期", "dispatched handling", SAME, "order.extension.request", True),
        _t(
            "decide_extension",
            "延期审批",
            "dispatched handling return_requested replied",
            SAME,
            "order.extension.decide",
        ),
        _t("assist_reply", "协办反馈", "dispatched handling", SAME, "order.reply"),
        _t("reply", "回复", "handling", "replied", "order.reply"),
        _t("accept_reply", "复核通过", "replied", "reviewed", "order.reply.review"),
        _t("reject_reply", "复核退回", "replied", "handling", "order.reply.review", True),
        _t("close", "办结", "reviewed", "closed", "order.close"),
        _t("callback", "回访", "closed answered", "visited", "order.callback"),
        _t("reopen", "重办", "closed visited", "pending_dispatch", "order.reopen", True),
        _t("archive", "归档", "answered closed visited rejected merged split", "archived", "order.archive"),
        _t("reject", "不予受理", _EDITABLE, "rejected", "order.reject", True),
        _t("merge", "合并重复", _EDITABLE, "merged", "order.merge"),
        _t("split", "拆分", "pending_review pending_dispatch", "split", "order.split"),
        _t("transfer", "转办外地", "pending_review pending_dispatch", "transferred", "order.transfer", True),
        _t("urge", "催办", "dispatched handling return_requested", SAME, "order.urge"),
        _t("note", "内部备注", _ALL, SAME, "order.note"),
        _t("edit", "修改", _EDITABLE, SAME, "order.edit"),
    ]
}

# Actions a handling unit performs; the actor must belong to an assigned unit.
UNIT_ACTIONS = frozenset({"sign", "return", "request_extension", "assist_reply", "reply"})
# Of those, the ones only the lead unit (主办) may perform.
LEAD_ONLY = frozenset({"return", "reply", "request_extension"})


def label(state: str) -> str:
    return STATES[state][0]


def category(state: str) -> str:
    return STATES[state][1]


def states_in(cat: str) -> list[str]:
    return [s for s, (_, c) in STATES.items() if c == cat]


def can_transition(state: str, action: str) -> bool:
    t = TRANSITIONS.get(action)
    return t is not None and state in t.sources
