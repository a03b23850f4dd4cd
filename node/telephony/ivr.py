"""The IVR state machine (语音导航), driven by menu data an administrator edits.

Pure logic: it receives keys and timeouts and returns the next `Step` (what to play, what input to
wait for, and the outcome: queue for an agent, look up an order, hang up). The engine executes
steps; tests drive it without SIP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from node.errors import ValidationError
from node.telephony.prompts import SYSTEM_PROMPTS, Prompt, position_text, spell_digits, state_text

ACTIONS: dict[str, str] = {
    "queue": "转人工排队（按业务类型）",
    "agent": "人工服务",
    "menu": "进入子菜单",
    "say": "播报信息后返回本菜单",
    "order_query": "工单进度查询",
    "repeat": "重听",
    "back": "返回主菜单",
    "hangup": "结束通话",
}
KEYS = frozenset("0123456789*#")
BUSINESS = {"": "人工服务", "1": "投诉举报", "2": "信息咨询", "3": "意见建议"}
MAX_DIGITS = 30
MAIN = "main"
# Queue positions announced exactly; a caller further back hears the last one's prompt.
MAX_POSITION = 9

DEFAULT_MENUS: list[dict[str, Any]] = [
    {
        "key": MAIN,
        "title": "主菜单",
        "prompt": "您好，欢迎致电交通运输服务监督热线。投诉举报请按1，信息咨询请按2，意见建议请按3，"
        "查询工单办理进度请按4，铁路、民航、邮政问题请按5，人工服务请按0，重听请按星号键。",
        "options": {
            "1": {"action": "queue", "business": "1", "label": "投诉举报"},
            "2": {"action": "queue", "business": "2", "label": "信息咨询"},
            "3": {"action": "queue", "business": "3", "label": "意见建议"},
            "4": {"action": "order_query", "label": "工单进度查询"},
            "5": {"action": "menu", "target": "other_lines", "label": "铁路、民航、邮政"},
            "0": {"action": "agent", "label": "人工服务"},
            "*": {"action": "repeat", "label": "重听"},
        },
    },
    {
        "key": "other_lines",
        "title": "铁路、民航、邮政",
        "prompt": "铁路问题请按1，民航问题请按2，邮政问题请按3，返回主菜单请按9，重听请按星号键。",
        "options": {
            "1": {
                "action": "say",
                "label": "铁路 12306",
                "text": f"铁路客运服务问题，请拨打铁路客户服务中心电话{spell_digits('12306')}。",
            },
            "2": {
                "action": "say",
                "label": "民航 12326",
                "text": f"民航服务问题，请拨打民航服务质量监督电话{spell_digits('12326')}。",
            },
            "3": {
                "action": "say",
                "label": "邮政 12305",
                "text": f"邮政快递服务问题，请拨打邮政业用户申诉电话{spell_digits('12305')}。",
            },
            "9": {"action": "back", "label": "返回主菜单"},
            "*": {"action": "repeat", "label": "重听"},
        },
    },
]


@dataclass(frozen=True)
class MenuSpec:
    key: str
    title: str
    prompt: str
    options: dict[str, dict[str, Any]]
    prompt_file: str = ""
    timeout_s: float = 8.0
    max_retries: int = 2

    def prompt_ref(self) -> Prompt:
        return Prompt(self.prompt_file or f"menu_{self.key}", self.prompt)


@dataclass
class Step:
    """What the engine does next. `wait`: "key" (one menu key), "digits" (until #), or "none"."""

    play: list[Prompt] = field(default_factory=list)
    wait: str = "key"
    timeout_s: float = 8.0
    outcome: str = ""  # "" continue | "queue" | "lookup" | "hangup" | "rate"
    business: str = ""
    order_number: str = ""
    query_code: str = ""
    rating: str = ""  # outcome "rate": 1 非常满意 2 满意 3 不满意 of `order_number`
    note: dict[str, Any] = field(default_factory=dict)


def sys_prompt(name: str) -> Prompt:
    return Prompt(name, SYSTEM_PROMPTS[name])


def validate_menus(menus: dict[str, MenuSpec]) -> None:
    """Raise ValidationError (Chinese, per field) unless the tree is playable."""
    errors: dict[str, str] = {}
    if MAIN not in menus:
        errors[MAIN] = "缺少主菜单（main）"
    for m in menus.values():
        where = f"{m.key}"
        if not m.prompt.strip() and not m.prompt_file:
            errors[where] = "菜单提示语不能为空"
        if not 1 <= m.timeout_s <= 60:
            errors[f"{where}.timeout_s"] = "等待按键时间应在1到60秒之间"
        if not 0 <= m.max_retries <= 5:
            errors[f"{where}.max_retries"] = "重试次数应在0到5之间"
        if not m.options:
            errors[f"{where}.options"] = "菜单至少需要一个按键选项"
        for k, opt in m.options.items():
            here = f"{where}.{k}"
            if k not in KEYS:
                errors[here] = f"按键必须是0-9、*或#：{k!r}"
                continue
            if not isinstance(opt, dict):
                errors[here] = "选项格式错误"
                continue
            action = opt.get("action")
            if action not in ACTIONS:
                errors[here] = f"未知动作：{action!r}"
            elif action == "queue" and opt.get("business", "") not in BUSINESS:
                errors[here] = "业务类型必须是1（投诉举报）、2（信息咨询）或3（意见建议）"
            elif action == "menu" and opt.get("target") not in menus:
                errors[here] = f"子菜单不存在：{opt.get('target')!r}"
            elif action == "say" and not str(opt.get("text", "")).strip():
                errors[here] = "播报动作需要播报内容"
    if errors:
        raise ValidationError("语音导航菜单有误", details=errors)


class IvrSession:
    """One caller's walk through the menus."""

    def __init__(self, menus: dict[str, MenuSpec]):
        self.menus = menus
        self.menu = MAIN
        self.mode = "menu"  # menu | order_number | query_code | rate | done
        self.retries = 0
        self.buffer = ""
        self.order_number = ""

    # -- entry points -------------------------------------------------------------------------
    def start(self) -> Step:
        return self._menu_step(MAIN)

    def key(self, digit: str) -> Step | None:
        """A key arrived. Returns the next step, or None while still collecting digits."""
        if digit not in KEYS or self.mode == "done":
            return None
        if self.mode == "menu":
            return self._menu_key(digit)
        if self.mode == "rate":
            return self._rate_key(digit)
        if digit == "*":
            self.buffer = ""
            return self._digits_prompt()
        if digit == "#":
            return self._digits_done()
        self.buffer += digit
        if len(self.buffer) >= MAX_DIGITS:
            return self._digits_done()
        return None

    def timeout(self) -> Step:
        self.retries += 1
        if self.mode == "rate":  # no rating key: back to the main menu
            return self._menu_step(MAIN)
        if self.mode == "menu":
            if self.retries > self.current.max_retries:
                return self._finish_queue("", [sys_prompt("too_many_errors")], reason="timeout")
            return self._menu_step(self.menu, keep_retries=True)
        if self.buffer:
            return self._digits_done()
        if self.retries > self.current.max_retries:
            return self._menu_step(MAIN)
        return self._digits_prompt()

    def lookup_result(self, label: str | None, rateable: bool = False) -> Step:
        """The engine's order lookup came back: read the state, then return to the main menu, or,
        for a closed order the caller has not rated from here, offer the rating first (1/2/3;
        0 or no key goes back to the main menu)."""
        first = Prompt("", state_text(label)) if label else sys_prompt("order_not_found")
        note = {"order_number": self.order_number, "found": bool(label), "label": label or ""}
        if label and rateable:
            self.mode, self.retries = "rate", 0
            wait = self.menus[MAIN].timeout_s
            return Step(play=[first, sys_prompt("query_rating")], wait="key", timeout_s=wait, note=note)
        step = self._menu_step(MAIN)
        step.play.insert(0, first)
        step.note = note
        return step

    def _rate_key(self, digit: str) -> Step:
        step = self._menu_step(MAIN)
        if digit in ("1", "2", "3"):
            step.play.insert(0, sys_prompt("query_rating_thanks"))
            step.outcome, step.rating, step.order_number = "rate", digit, self.order_number
        return step

    # -- internals ----------------------------------------------------------------------------
    @property
    def current(self) -> MenuSpec:
        return self.menus[self.menu]

    def _menu_step(self, key: str, *, keep_retries: bool = False) -> Step:
        self.menu, self.mode, self.buffer = key, "menu", ""
        if not keep_retries:
            self.retries = 0
        m = self.menus[key]
        return Step(play=[m.prompt_ref()], wait="key", timeout_s=m.timeout_s, note={"menu": key})

    def _menu_key(self, digit: str) -> Step:
        opt = self.current.options.get(digit)
        if opt is None:
            self.retries += 1
            if self.retries > self.current.max_retries:
                return self._finish_queue("", [sys_prompt("too_many_errors")], reason="invalid")
            step = self._menu_step(self.menu, keep_retries=True)
            step.play.insert(0, sys_prompt("invalid"))
            return step
        action = opt["action"]
        if action in ("queue", "agent"):
            return self._finish_queue(str(opt.get("business", "")), [sys_prompt("queue")], reason=action)
        if action == "menu":
            return self._menu_step(str(opt["target"]))
        if action == "say":
            step = self._menu_step(self.menu)
            step.play.insert(0, Prompt(str(opt.get("prompt_file", "")), str(opt["text"])))
            step.note = {"menu": self.menu, "said": opt.get("label", "")}
            return step
        if action == "order_query":
            self.mode, self.buffer, self.retries = "order_number", "", 0
            return self._digits_prompt()
        if action == "repeat":
            return self._menu_step(self.menu)
        if action == "back":
            return self._menu_step(MAIN)
        self.mode = "done"
        return Step(play=[sys_prompt("goodbye")], wait="none", outcome="hangup")

    def _finish_queue(self, business: str, play: list[Prompt], reason: str) -> Step:
        self.mode = "done"
        return Step(play=play, wait="none", outcome="queue", business=business, note={"reason": reason})

    def _digits_prompt(self) -> Step:
        name = "order_number" if self.mode == "order_number" else "query_code"
        return Step(play=[sys_prompt(name)], wait="digits", timeout_s=self.current.timeout_s + 4)

    def _digits_done(self) -> Step:
        value, self.buffer, self.retries = self.buffer, "", 0
        if self.mode == "order_number":
            if not value:
                return self._digits_prompt()
            self.order_number, self.mode = value, "query_code"
            return self._digits_prompt()
        self.mode = "done"
        return Step(play=[], wait="none", outcome="lookup", order_number=self.order_number, query_code=value)


def menus_from_rows(rows: list[dict[str, Any]]) -> dict[str, MenuSpec]:
    return {
        str(r["key"]): MenuSpec(
            key=str(r["key"]),
            title=str(r.get("title", r["key"])),
            prompt=str(r.get("prompt", "")),
            options={
                str(k): dict(v) if isinstance(v, dict) else v for k, v in (r.get("options") or {}).items()
            },
            prompt_file=str(r.get("prompt_file", "") or ""),
            timeout_s=float(r.get("timeout_s", 8)),
            max_retries=int(r.get("max_retries", 2)),
        )
        for r in rows
    }


def all_prompts(menus: dict[str, MenuSpec]) -> list[Prompt]:
    """Every fixed prompt a call can hear: menus, system prompts and queue positions (for
    generation at setup)."""
    out = [m.prompt_ref() for m in menus.values()]
    for m in menus.values():
        for opt in m.options.values():
            if isinstance(opt, dict) and opt.get("action") == "say":
                out.append(Prompt(str(opt.get("prompt_file", "")), str(opt["text"])))
    out += [sys_prompt(n) for n in SYSTEM_PROMPTS]
    out += [Prompt("", position_text(n)) for n in range(MAX_POSITION + 1)]
    return out
