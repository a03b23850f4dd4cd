"""Telephony tables: calls and their event log, call legs, agents and their state log,
recordings, phone ratings, callback tasks, the editable IVR menus and the engine registry.

`CallEvent` is the full history of a call; `CallLeg` is its statistical summary (one row per wait
for an agent: queued, answered or abandoned with the wait, handled and wrap-up times), the table
the indicator engine aggregates by day, queue and agent. `Call` and `Agent` are projections kept
current by the engines.
"""

from __future__ import annotations

import peewee as pw

from node.auth.models import User
from node.db import BaseModel, JsonText

CALL_STATES: dict[str, str] = {
    "ivr": "语音导航",
    "queued": "排队中",
    "offered": "振铃坐席",
    "talking": "通话中",
    "rating": "满意度评价",
    "dialing": "外呼中",
    "ended": "已结束",
}

AGENT_STATES: dict[str, str] = {
    "offline": "离线",
    "ready": "就绪",
    "not_ready": "示忙",
    "ringing": "振铃",
    "talking": "通话中",
    "wrapup": "话后整理",
}

EVENT_KINDS: dict[str, str] = {
    "incoming": "来电",
    "ivr_key": "按键",
    "ivr": "语音导航",
    "queued": "进入排队",
    "offered": "分配坐席",
    "no_answer": "坐席未应答",
    "unreachable": "坐席不可达",
    "answered": "坐席应答",
    "bridged": "通话接通",
    "transferred": "转接",
    "agent_hangup": "坐席挂机",
    "rated": "满意度评价",
    "callback_left": "留言回电",
    "abandoned": "排队放弃",
    "overflow": "线路忙",
    "hold": "保持",
    "unhold": "取消保持",
    "consult": "咨询",
    "monitor": "班长监听",
    "click_dial": "回访外呼",
    "click_agent": "坐席已接听，正在呼叫市民",
    "click_result": "回访外呼结果",
    "query_rated": "查询时评价",
    "recording": "录音",
    "ended": "通话结束",
}

LEG_ORIGINS: dict[str, str] = {
    "ivr": "语音导航转人工",
    "transfer": "转接",
    "callback": "回电转人工",
    "overflow": "线路忙未进入",
    "followup": "回访外呼",
}

LEG_OUTCOMES: dict[str, str] = {
    "waiting": "等待中",
    "talking": "通话中",
    "answered": "已接听",
    "transferred": "已转接",
    "abandoned": "放弃",
    "callback": "留号回电",
    "overflow": "线路忙",
    "dropped": "异常中断",
    "unreached": "未接通",
}

END_REASONS: dict[str, str] = {
    "completed": "正常结束",
    "caller_hangup": "来电方挂机",
    "abandoned": "排队放弃",
    "callback_left": "留号待回电",
    "ivr_finished": "自助服务结束",
    "dropped": "异常中断",
    "rejected": "线路忙拒接",
    "no_answer": "无人接听",
    "failed": "呼叫失败",
    "not_placed": "坐席未接听，未外呼",
    "busy": "对方忙",
}

RATINGS: dict[int, str] = {1: "非常满意", 2: "满意", 3: "不满意"}

RECORDING_STATES: dict[str, str] = {
    "recording": "录音中",
    "finalized": "已完成",
    "flagged": "已标记异常",
    "purged": "已按保留期清除",
}

CALLBACK_STATES: dict[str, str] = {
    "pending": "待回电",
    "dialing": "外呼中",
    "done": "已回电",
    "failed": "回电失败",
}


class Engine(BaseModel):
    """呼叫引擎: one PJSUA2 engine process; its heartbeat tells the ACD whether its calls are live."""

    name = pw.CharField(unique=True, max_length=40)
    sip_port = pw.IntegerField(default=0)
    control_port = pw.IntegerField(default=0)
    pid = pw.IntegerField(null=True)
    status = pw.CharField(max_length=12, default="stopped")
    started_at = pw.DateTimeField(null=True)
    heartbeat_at = pw.DateTimeField(null=True, index=True)


class Agent(BaseModel):
    """坐席: a user with a SIP extension registered at Kamailio, and the agent's current state."""

    user = pw.ForeignKeyField(User, unique=True, backref="agent_seat", on_delete="CASCADE")
    extension = pw.CharField(unique=True, max_length=20)
    state = pw.CharField(max_length=12, default="offline", index=True)
    reason = pw.CharField(max_length=60, default="")
    state_since = pw.DateTimeField()
    idle_since = pw.DateTimeField(null=True)
    wrapup_until = pw.DateTimeField(null=True)
    current_call = pw.CharField(max_length=32, default="")
    # Softphone registration as Kamailio last reported it (None = not checked yet).
    sip_registered = pw.BooleanField(null=True)
    registration_checked_at = pw.DateTimeField(null=True)
    # Digest HA1 of the softphone's SIP password (MD5 of extension:realm:password); empty = the
    # extension cannot register at Kamailio.
    sip_ha1 = pw.CharField(max_length=32, default="")


class AgentStateLog(BaseModel):
    """Every agent state change with its time: the basis of occupancy and not-ready statistics."""

    agent = pw.ForeignKeyField(Agent, backref="state_log", on_delete="CASCADE")
    state = pw.CharField(max_length=12)
    previous = pw.CharField(max_length=12, default="")
    reason = pw.CharField(max_length=60, default="")
    call_uuid = pw.CharField(max_length=32, default="")
    # Who changed it: the agent's own name, a shift leader's, or "系统" (no answer, softphone
    # unregistered, calls) so the phone bar can say why.
    by = pw.CharField(max_length=40, default="系统")
    at = pw.DateTimeField(index=True)


class Call(BaseModel):
    """通话: one call leg from or to a citizen, with its line state and milestone times."""

    uuid = pw.CharField(unique=True, max_length=32)
    direction = pw.CharField(max_length=8, default="inbound")
    engine = pw.CharField(max_length=40, index=True)
    sip_call_id = pw.CharField(max_length=200, default="")
    caller_cipher = pw.TextField(default="")
    caller_digest = pw.CharField(max_length=32, default="", index=True)
    caller_masked = pw.CharField(max_length=24, default="")
    dialed = pw.CharField(max_length=40, default="")
    state = pw.CharField(max_length=10, default="ivr", index=True)
    business = pw.CharField(max_length=2, default="")
    keys = pw.CharField(max_length=200, default="")
    queue_priority = pw.IntegerField(default=0)
    started_at = pw.DateTimeField(index=True)
    ivr_answered_at = pw.DateTimeField(null=True)
    queued_at = pw.DateTimeField(null=True)
    offered_at = pw.DateTimeField(null=True)
    answered_at = pw.DateTimeField(null=True)
    bridged_at = pw.DateTimeField(null=True)
    agent_ended_at = pw.DateTimeField(null=True)
    ended_at = pw.DateTimeField(null=True)
    agent = pw.ForeignKeyField(Agent, null=True, backref="calls", on_delete="SET NULL")
    end_reason = pw.CharField(max_length=16, default="")
    abandoned = pw.BooleanField(default=False)
    order_number = pw.CharField(max_length=21, default="", index=True)
    contact_id = pw.IntegerField(null=True)
    # 回访外呼 (click-to-dial): the callback task (node/followup VisitTask) this call was placed for
    visit_task = pw.IntegerField(null=True, index=True)


class CallEvent(BaseModel):
    """One normalized event of a call (来电, 按键, 排队, 分配, 应答, 接通, 转接, 放弃, 结束 …)."""

    call = pw.ForeignKeyField(Call, backref="events", on_delete="CASCADE")
    seq = pw.IntegerField()
    kind = pw.CharField(max_length=16, index=True)
    at = pw.DateTimeField(index=True)
    agent = pw.ForeignKeyField(Agent, null=True, backref="events", on_delete="SET NULL")
    data = JsonText(null=True)

    class Meta:
        indexes = ((("call", "seq"), True),)


class CallLeg(BaseModel):
    """话务记录: one wait of a caller for an agent and that agent's handling of it.

    A call that reaches the queue from the menu opens a leg (origin "ivr"); a transfer closes the
    leg (outcome "transferred") and opens one for the new target; a callback that asks for an
    agent opens one (origin "callback"); a caller refused because every line was busy gets one
    with outcome "overflow". Times in seconds: `wait_s` entered → answered or given up,
    `talk_s` answered → the agent left (handled time), `wrapup_s` the agent's wrap-up after it.
    """

    call = pw.ForeignKeyField(Call, backref="legs", on_delete="CASCADE")
    seq = pw.IntegerField()
    day = pw.DateField(index=True)
    direction = pw.CharField(max_length=8, default="inbound")
    origin = pw.CharField(max_length=10, default="ivr", index=True)
    queue = pw.CharField(max_length=2, default="", index=True)
    agent = pw.ForeignKeyField(Agent, null=True, backref="legs", on_delete="SET NULL")
    user = pw.ForeignKeyField(User, null=True, backref="call_legs", on_delete="SET NULL")
    entered_at = pw.DateTimeField(index=True)
    answered_at = pw.DateTimeField(null=True)
    ended_at = pw.DateTimeField(null=True)
    wait_s = pw.FloatField(null=True)
    talk_s = pw.FloatField(null=True)
    wrapup_s = pw.FloatField(null=True)
    offers = pw.IntegerField(default=0)
    outcome = pw.CharField(max_length=12, default="waiting", index=True)
    transferred_to = pw.CharField(max_length=40, default="")

    class Meta:
        indexes = ((("call", "seq"), True), (("day", "queue"), False), (("day", "user"), False))


class Recording(BaseModel):
    """通话录音: one A-law WAV per call, stored under recordings/<yyyy>/<mm>/<dd>/<uuid>.wav."""

    call = pw.ForeignKeyField(Call, unique=True, backref="recordings", on_delete="CASCADE")
    path = pw.CharField(max_length=200)
    status = pw.CharField(max_length=10, default="recording", index=True)
    note = pw.CharField(max_length=200, default="")
    started_at = pw.DateTimeField()
    ended_at = pw.DateTimeField(null=True)
    duration_s = pw.FloatField(null=True)
    size_bytes = pw.IntegerField(null=True)
    retain_until = pw.DateField(null=True, index=True)
    order_number = pw.CharField(max_length=21, default="", index=True)
    contact_id = pw.IntegerField(null=True)


class PhoneRating(BaseModel):
    """电话服务满意度: the caller's key press after the agent hung up (1 非常满意 / 2 满意 / 3 不满意)."""

    call = pw.ForeignKeyField(Call, unique=True, backref="ratings", on_delete="CASCADE")
    agent = pw.ForeignKeyField(Agent, null=True, backref="ratings", on_delete="SET NULL")
    score = pw.IntegerField()
    at = pw.DateTimeField(index=True)


class CallbackTask(BaseModel):
    """留号回电: a caller who waited too long left a number; an outbound call answers it later."""

    call = pw.ForeignKeyField(Call, backref="callback_tasks", on_delete="CASCADE")
    number_cipher = pw.TextField()
    number_digest = pw.CharField(max_length=32, index=True)
    number_masked = pw.CharField(max_length=24)
    business = pw.CharField(max_length=2, default="")
    status = pw.CharField(max_length=10, default="pending", index=True)
    attempts = pw.IntegerField(default=0)
    created_at = pw.DateTimeField(index=True)
    last_attempt_at = pw.DateTimeField(null=True)
    outbound_call = pw.CharField(max_length=32, default="")
    result = pw.CharField(max_length=200, default="")


class IvrMenu(BaseModel):
    """语音导航菜单: one node of the IVR tree, editable by an administrator.

    `options` maps a key ("1" … "9", "0", "*", "#") to an action, e.g.
    {"action": "queue", "business": "1", "label": "投诉举报"}; see node.telephony.ivr.ACTIONS.
    """

    key = pw.CharField(unique=True, max_length=40)
    title = pw.CharField(max_length=60)
    prompt = pw.TextField()
    prompt_file = pw.CharField(max_length=60, default="")
    options = JsonText()
    timeout_s = pw.IntegerField(default=8)
    max_retries = pw.IntegerField(default=2)
    updated_at = pw.DateTimeField()


MODELS = [
    Engine,
    Agent,
    AgentStateLog,
    Call,
    CallEvent,
    CallLeg,
    Recording,
    PhoneRating,
    CallbackTask,
    IvrMenu,
]
