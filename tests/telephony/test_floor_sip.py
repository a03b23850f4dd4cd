"""The call-centre floor with real SIP peers: the busy announcer when every line is taken, the
callback offer heard in full with a SIP INFO digit burst after it, and a shift leader listening
in and whispering to the agent. What a UA heard is checked in its own recording (energy, FFT and
correlation with the prompt file), so these tests fail if a prompt is cut or mixed wrongly."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from node import pii
from node.auth.service import SYSTEM, actor_for
from node.telephony import audio, control, floor, ivr, service
from node.telephony.models import Agent, Call, CallbackTask, CallEvent, CallLeg
from node.telephony.prompts import PromptLibrary
from tests.telephony.harness import Stack, wait_until
from tests.telephony.test_sip import (
    all_offline,
    dial_in,
    ended,
    event,
    finalized_recording,
    make_agent,
    offer_started,
    pytestmark,  # noqa: F401  (sip, slow, kamailio present)
    q,
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # one engine taking one caller, so a second caller finds every line busy; announcements every
    # 5 s would fall on the callback offer at 8 s if the engine did not take turns
    st = Stack(
        tmp_path_factory.mktemp("floor"),
        engines=1,
        callers_per_engine=1,
        callback_offer_s=8,
        announce_every_s=5,
        ring_timeout_s=6,
    )
    try:
        st.start()
        yield st
    finally:
        st.stop()


def prompt_samples(stack: Stack, name: str) -> np.ndarray:
    path = PromptLibrary(stack.cfg.prompts_dir).path_for(ivr.sys_prompt(name))
    return audio.read_samples(path)[1].astype(np.float64)


def best_match(heard: np.ndarray, template: np.ndarray) -> tuple[float, int]:
    """Highest normalised correlation of `template` against `heard` (1.0 = identical), and where."""
    from scipy.signal import correlate

    heard = heard.astype(np.float64)
    if len(heard) < len(template):
        heard = np.concatenate([heard, np.zeros(len(template) - len(heard))])
    num = correlate(heard, template, mode="valid", method="fft")
    energy = np.sqrt(np.convolve(heard**2, np.ones(len(template)), mode="valid"))
    norm = float(np.linalg.norm(template))
    # a (near) silent stretch of `heard` matches nothing: no division by ~0
    score = np.where(energy > 0.05 * norm, num / (np.maximum(energy, 1e-9) * norm), 0.0)
    i = int(np.argmax(score))
    return float(score[i]), i


def coverage(heard: np.ndarray, template: np.ndarray, rate: int = 8000, chunk_s: float = 0.5) -> float:
    """Share of the template's half-second pieces found, in order, in `heard` (each matched with a
    normalised correlation above 0.8 near where the previous one was). A prompt cut short or
    played over loses its pieces; a media frame dropped under CPU load only shifts the next."""
    n = int(chunk_s * rate)
    pieces = [template[i : i + n] for i in range(0, len(template) - n + 1, n)]
    pieces = [p for p in pieces if np.linalg.norm(p) > 1e-3 * n]  # skip silent pieces
    if not pieces:
        return 0.0
    found, at = 0, None
    for piece in pieces:
        expect = (at + n) if at is not None else None
        lo = 0 if expect is None else max(0, expect - rate // 2)
        hi = len(heard) if expect is None else min(len(heard), expect + n + rate // 2)
        if hi - lo < n:
            continue
        score, where = best_match(heard[lo:hi], piece)
        if score > 0.8:
            found, at = found + 1, lo + where
        elif at is not None:
            at += n
    return found / len(pieces)


def window(samples: np.ndarray, rate: int, start: float, end: float) -> np.ndarray:
    return samples[max(0, int(start * rate)) : max(0, int(end * rate))]


def test_all_lines_busy_plays_the_busy_prompt_then_hangs_up(stack: Stack, tmp_path: Path) -> None:
    all_offline()
    holder, first = dial_in(stack, "busy-holder", "b1", "13800139001")  # takes the only line
    try:
        _busy_caller_hears_the_prompt(stack, tmp_path)
    finally:
        holder.send(op="hangup", id="b1")
        ended(first.uuid)
        holder.close()


def _busy_caller_hears_the_prompt(stack: Stack, tmp_path: Path) -> None:
    second = stack.ua("busy-second")
    heard_at = tmp_path / "second.wav"
    second.send(op="call", id="b2", uri=stack.uri, record=str(heard_at), **{"from": "13800139002"})
    confirmed = second.wait(lambda e: e["ev"] == "confirmed", 15)
    bye = second.wait(lambda e: e["ev"] == "disconnected", 40)
    prompt = prompt_samples(stack, "lines_busy")
    rate = 8000
    length = len(prompt) / rate
    assert bye["t"] - confirmed["t"] >= length, "hung up before the prompt ended"

    digest = pii.codec().digest("13800139002")
    busy = wait_until(lambda: q(lambda: Call.get_or_none(Call.caller_digest == digest)), 10, "busy call row")
    done = ended(busy.uuid)
    assert (done.engine, done.end_reason) == ("announcer", "rejected")
    leg = q(lambda: CallLeg.get(CallLeg.call == done))
    assert (leg.origin, leg.outcome, leg.answered_at) == ("overflow", "overflow", None)
    assert q(floor.leg_counters)["by_outcome"]["overflow"] >= 1

    _, heard = audio.read_samples(heard_at)
    heard = heard.astype(np.float64)
    spoken = window(heard, rate, 0, length)
    # energy: the caller heard speech for the prompt's length, not silence
    assert np.sqrt(np.mean(spoken**2)) > 0.3 * np.sqrt(np.mean(prompt**2))
    # FFT: that energy is in the speech band
    spectrum = np.abs(np.fft.rfft(spoken)) ** 2
    freqs = np.fft.rfftfreq(len(spoken), 1 / rate)
    assert spectrum[(freqs >= 200) & (freqs <= 3400)].sum() / spectrum.sum() > 0.8
    # and it is the busy prompt itself, heard to (almost) its end
    # (the whole recording: under CPU load the prompt may start a while after the UA's recorder)
    share = coverage(heard, prompt[: int((length - 0.5) * rate)])
    assert share > 0.8, f"busy prompt not heard in full ({share:.0%} of it)"
    assert second.close() == 0


def test_callback_offer_is_heard_in_full_and_an_info_burst_after_it_leaves_the_number(stack: Stack) -> None:
    all_offline()
    caller, call = dial_in(stack, "offer", "o1", "13800139011")
    caller.send(op="dtmf", id="o1", digits="2")
    wait_until(lambda: offer_started(call), 30, "callback offer")
    offered = next(
        e for e in q(lambda: list(call.events)) if (e.data or {}).get("action") == "callback_offer"
    )
    time.sleep(float(offered.data["ends_in_s"]) + 0.3)  # the offer's own length: press 1 after it
    caller.send(op="dtmf", id="o1", digits="1")
    wait_until(
        lambda: any(e.kind == "ivr_key" and e.data["digit"] == "1" for e in q(lambda: list(call.events))),
        10,
        "key 1",
    )
    time.sleep(0.5)
    caller.send(op="dtmf", id="o1", digits="654321#", method="info")  # seven SIP INFO requests at once
    caller.wait(lambda e: e["ev"] == "disconnected", 30)
    done = ended(call.uuid)
    assert done.end_reason == "callback_left"
    task = q(lambda: CallbackTask.get(CallbackTask.call == done))
    assert pii.codec().reveal(task.number_cipher) == "654321"  # every digit, in order
    assert done.keys.endswith("1xxxxxx#")  # the number is not stored in clear
    logged = q(lambda: [str(e.data) for e in CallEvent.select().where(CallEvent.call == done)])
    assert not any("654321" in d for d in logged)
    leg = q(lambda: CallLeg.get(CallLeg.call == done))
    assert (leg.outcome, leg.queue) == ("callback", "2")

    # the engine's recording holds what the caller heard: the whole offer, nothing over it
    rec = finalized_recording(done)
    rate, samples = audio.read_samples(stack.cfg.recordings_dir / rec.path)
    offset = (offered.at - rec.started_at).total_seconds()
    offer = prompt_samples(stack, "callback_offer")
    length = len(offer) / rate
    share = coverage(window(samples, rate, offset - 1.0, offset + length + 1.0), offer)
    assert share > 0.85, f"callback offer cut or overlaid ({share:.0%} of it heard)"
    # the queue prompt before it also played to its end (it used to be cut by the first position)
    queue_prompt = prompt_samples(stack, "queue")
    queued = event(done, "queued")
    q_offset = (queued.at - rec.started_at).total_seconds()
    q_share = coverage(
        window(samples, rate, q_offset - 1.0, q_offset + len(queue_prompt) / rate + 1.0), queue_prompt
    )
    assert q_share > 0.85, f"'正在为您转接人工服务' cut ({q_share:.0%} of it heard)"
    assert caller.close() == 0


def test_shift_leader_listens_then_whispers_to_the_agent(stack: Stack, tmp_path: Path) -> None:
    all_offline()
    agent = make_agent(stack, "8601")
    leader_seat = make_agent(stack, "8690", ready=False, role="shift_leader")
    agents = stack.agent_ua(
        {"8601": {"answer_after": 0.3, "tone": 1400, "record": str(tmp_path / "agent")}}, "mon-a"
    )
    leader = stack.agent_ua(
        {"8690": {"answer_after": 0.3, "tone": 2000, "record": str(tmp_path / "leader")}}, "mon-l"
    )
    caller, call = dial_in(
        stack, "mon-c", "m1", "13800139021", tone=1000, record=str(tmp_path / "caller.wav")
    )
    caller.send(op="dtmf", id="m1", digits="1")
    wait_until(lambda: event(call, "bridged"), 20, "bridged")
    boss = actor_for(q(lambda: Agent.get_by_id(leader_seat.id).user))

    def monitor(mode: str) -> None:
        seat = q(lambda: service.monitor_seat(boss, call.uuid, mode))
        reply = q(
            lambda: control.engine_command(
                call.uuid, {"cmd": "monitor", "mode": mode, "extension": seat.extension, "agent_id": seat.id}
            )
        )
        assert reply["ok"] and reply["mode"] == mode

    monitor("listen")
    leader.wait(lambda e: e["ev"] == "recording", 15)
    t_listen = time.time() + 0.5
    time.sleep(2.5)
    monitor("whisper")
    t_whisper = time.time() + 0.5
    time.sleep(2.5)
    t_end = time.time()
    caller.send(op="hangup", id="m1")
    ended(call.uuid)
    modes = [e.data["mode"] for e in q(lambda: list(call.events)) if e.kind == "monitor"]
    assert modes[:2] == ["listen", "whisper"]
    for ua in (caller, agents, leader):
        ua.wait(lambda e: e["ev"] == "disconnected", 15)

    def heard(ua: object, t0: float, t1: float) -> np.ndarray:
        rec = ua.wait(lambda e: e["ev"] == "recording", 1)  # type: ignore[attr-defined]
        rate, samples = audio.read_samples(Path(rec["path"]))
        return window(samples, rate, t0 - rec["t"], t1 - rec["t"])

    rate = 8000
    boss_listen = heard(leader, t_listen, t_whisper - 0.5)
    assert (
        audio.band_level(boss_listen, rate, 1000) > 0.05 and audio.band_level(boss_listen, rate, 1400) > 0.05
    )
    agent_listen = heard(agents, t_listen, t_whisper - 0.5)
    agent_whisper = heard(agents, t_whisper, t_end)
    caller_whisper = heard(caller, t_whisper, t_end)
    assert audio.band_level(agent_listen, rate, 2000) < 0.02, (
        "the agent heard the leader while only listening"
    )
    assert audio.band_level(agent_whisper, rate, 2000) > 0.05, "the whisper did not reach the agent"
    assert audio.band_level(caller_whisper, rate, 2000) < 0.02, "the caller heard the whisper"
    assert audio.band_level(caller_whisper, rate, 1400) > 0.05  # and still hears the agent
    assert q(lambda: Agent.get_by_id(agent.id)).state in ("wrapup", "ready")
    for ua in (caller, agents, leader):
        assert ua.close() == 0


def test_agent_consults_a_colleague_then_hands_the_caller_over(stack: Stack, tmp_path: Path) -> None:
    all_offline()
    first = make_agent(stack, "8611")
    second = make_agent(stack, "8612", ready=False)
    seats = stack.agent_ua(
        {
            "8611": {"answer_after": 0.3, "tone": 1400, "record": str(tmp_path / "first")},
            "8612": {"answer_after": 0.3, "tone": 1800, "record": str(tmp_path / "second")},
        },
        "consult-seats",
    )
    caller, call = dial_in(
        stack, "consult-c", "k1", "13800139031", tone=1000, record=str(tmp_path / "caller.wav")
    )
    caller.send(op="dtmf", id="k1", digits="1")
    wait_until(lambda: event(call, "bridged"), 20, "bridged to 8611")
    owner = actor_for(q(lambda: Agent.get_by_id(first.id).user))

    def command(cmd: dict[str, str]) -> dict[str, object]:
        q(lambda: service.check_call_control(owner, call.uuid))
        return q(lambda: control.engine_command(call.uuid, cmd))  # type: ignore[no-any-return]

    with pytest.raises(Exception, match="不能转接"):  # the colleague must be ready
        command({"cmd": "consult", "extension": "8612"})
    q(lambda: service.set_agent_state(SYSTEM, second.id, "ready"))
    assert command({"cmd": "consult", "extension": "8612"})["ok"]
    wait_until(lambda: q(lambda: Agent.get_by_id(second.id)).state == "talking", 20, "colleague answers")
    bar = q(lambda: floor.phone_bar(owner, stack.cfg))
    assert bar["call"]["consult"] == "talking" and bar["call"]["on_hold"]
    t_consult = time.time() + 0.5
    time.sleep(2.0)
    assert command({"cmd": "consult_transfer"})["ok"]
    t_handed = time.time() + 0.5
    wait_until(
        lambda: q(lambda: Call.get(Call.uuid == call.uuid)).agent_id == second.id, 10, "caller handed over"
    )
    time.sleep(2.0)
    t_end = time.time()
    caller.send(op="hangup", id="k1")
    done = ended(call.uuid)
    legs = q(lambda: list(CallLeg.select().where(CallLeg.call == done).order_by(CallLeg.seq)))
    assert [(leg.outcome, leg.agent_id) for leg in legs] == [
        ("transferred", first.id),
        ("answered", second.id),
    ]
    assert legs[0].transferred_to == "agent:8612" and legs[1].origin == "transfer"
    assert q(lambda: Agent.get_by_id(first.id)).state == "wrapup"
    phases = [e.data["phase"] for e in q(lambda: list(done.events)) if e.kind == "consult"]
    assert phases[:2] == ["ringing", "talking"]

    def heard(name: str, t0: float, t1: float) -> np.ndarray:
        ua = caller if name == "caller" else seats
        rec = ua.wait(lambda e: e["ev"] == "recording" and (name == "caller" or name in e["path"]), 1)
        rate, samples = audio.read_samples(Path(rec["path"]))
        return window(samples, rate, t0 - rec["t"], t1 - rec["t"])

    rate = 8000
    assert audio.band_level(heard("first", t_consult, t_handed - 0.5), rate, 1800) > 0.05, (
        "8611 did not hear 8612"
    )
    assert audio.band_level(heard("caller", t_consult, t_handed - 0.5), rate, 1800) < 0.02, (
        "the caller heard the consultation"
    )
    assert audio.band_level(heard("caller", t_handed, t_end), rate, 1800) > 0.05, (
        "the caller was not handed to 8612"
    )
    assert caller.close() == 0 and seats.close() == 0
