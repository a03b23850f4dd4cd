"""The call engine process: PJSUA2 with the null audio device answering calls dispatched by Kamailio.

Threads: the main thread owns every PJSIP object and runs the loop (`libHandleEvents`, then the
inbox of callback notices, then posted replies, then timers); PJSUA2 callbacks only append to the
inbox. A DB thread writes call events through `node.telephony.service`, answers look-ups (order
progress, queue position) and claims agents for this engine's queued callers. A control thread
accepts JSON commands on 127.0.0.1 (transfer, hang up, callback, snapshot) and posts them to the loop.

Run: `python -m node.telephony.engine --config NODE_HOME --index 0` (or `hotline telephony serve-engine`).
"""

from __future__ import annotations

import argparse
import collections
import gc
import heapq
import itertools
import json
import logging
import os
import queue
import re
import signal
import socketserver
import sys
import threading
import time
import uuid as uuidlib
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pjsua2 as pj

from node import clock, db, pii
from node.config import service as config
from node.errors import ValidationError
from node.settings import Settings
from node.settings import configure as configure_settings
from node.settings import load as load_settings
from node.telephony import audio, ivr, kamailio, service
from node.telephony import config as tconfig
from node.telephony.prompts import Prompt, PromptLibrary, position_text, state_text, wav_duration

log = logging.getLogger("hotline.telephony.engine")

URI_USER = re.compile(r"sip:([^@;>]+)@")
CONFIRMED = pj.PJSIP_INV_STATE_CONFIRMED
DISCONNECTED = pj.PJSIP_INV_STATE_DISCONNECTED
UNREACHABLE_CODES = {404, 410, 480, 484, 502, 503, 604}
PJ_MAX_CALLS = tconfig.WHEEL_MAX_CALLS
IDLE_POLL_MS = 50
# A position announcement is not started when the callback offer is due within this many seconds.
POSITION_ROOM_S = 8.0
REGISTRATION_POLL_S = 3.0
# How long a closed recorder may take to write its WAV header before the file is inspected anyway.
RECORDING_CLOSE_S = 3.0
MONITOR_MODES = ("listen", "whisper", "barge")


class Leg(pj.Call):
    """A SIP call leg. Callbacks only record what happened; the loop acts on it."""

    def __init__(self, engine: CallEngine, acc: pj.Account, role: str, call_id: int = pj.PJSUA_INVALID_ID):
        pj.Call.__init__(self, acc, call_id)
        self.engine = engine
        self.role = role  # "caller" (citizen, inbound or outbound) | "agent"
        self.owner: Session | None = None
        self.am: pj.AudioMedia | None = None
        self.confirmed = False
        self.gone = False
        self.cancelled_by_us = False
        self.t_in = 0.0  # monotonic time PJSIP reported the incoming INVITE

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        try:
            ci = self.getInfo()
            self.engine.inbox.append((self, "state", ci.state, ci.lastStatusCode))
        except Exception:  # never let an exception cross into PJSIP
            log.exception("onCallState")

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        try:
            self.engine.inbox.append((self, "media", None, None))
        except Exception:
            log.exception("onCallMediaState")

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        try:
            self.engine.inbox.append((self, "dtmf", prm.digit, None))
        except Exception:
            log.exception("onDtmfDigit")


class EngineAccount(pj.Account):
    def __init__(self, engine: CallEngine):
        pj.Account.__init__(self)
        self.engine = engine

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        try:
            leg = Leg(self.engine, self, "caller", prm.callId)
            leg.t_in = time.monotonic()
            self.engine.legs.add(leg)  # keep a Python reference for the call's lifetime
            self.engine.inbox.append((leg, "incoming", None, None))
        except Exception:
            log.exception("onIncomingCall")


class Session:
    """One citizen's call through IVR, queue, agent and rating (or an outbound callback)."""

    def __init__(self, uuid: str, leg: Leg | None, direction: str):
        self.uuid = uuid
        self.leg: Leg | None = leg
        self.direction = direction
        self.state = "ivr"  # ivr | queued | offered | talking | rating | closing | ended
        self.ivr: ivr.IvrSession | None = None
        self.rec: pj.AudioMediaRecorder | None = None
        self.rec_rel = ""
        self.player: pj.AudioMediaPlayer | None = None
        self.hold: pj.AudioMediaPlayer | None = None
        self.agent_leg: Leg | None = None
        self.agent_id: int | None = None
        self.business = ""
        self.end_reason = ""
        self.gen = 0
        self.qmode = "hold"  # hold | cb_number
        self.cb_offered = False
        self.digits = ""
        self.rating_tries = 0
        self.callback_task: int | None = None
        self.bridged = False
        self.on_hold = False
        # queue announcements: one at a time, never over another prompt (monotonic times)
        self.busy_until = 0.0
        self.queued_mono = 0.0
        self.next_position = 0.0
        self.tick_token = 0
        self.monitor_leg: Leg | None = None
        self.monitor_mode = ""
        self.monitor_agent_id: int | None = None
        self.consult_leg: Leg | None = None
        self.consult_agent_id: int | None = None
        self.consult_talking = False
        # 回访外呼 (click-to-dial): the agent's softphone first, then the citizen's number
        self.click = False
        self.click_number = ""
        self.click_outcome = ""

    @property
    def am(self) -> pj.AudioMedia | None:
        return self.leg.am if self.leg is not None else None


class DbWorker(threading.Thread):
    """The engine's only database user: events in order, look-ups, ACD claims, heartbeat."""

    def __init__(self, engine: CallEngine):
        super().__init__(name="telephony-db", daemon=True)
        self.engine = engine
        self.q: queue.Queue[Any] = queue.Queue()
        self.last_claim = 0.0
        self.last_beat = 0.0
        self.last_registrations = 0.0
        self.last_menus_check = 0.0

    def event(self, ev: dict[str, Any]) -> None:
        self.q.put(("event", ev))

    def request(self, fn: Callable[[], Any], reply: Callable[[Any, BaseException | None], None]) -> None:
        self.q.put(("request", fn, reply))

    def stop(self) -> None:
        self.q.put(None)

    def run(self) -> None:
        db.database.connect(reuse_if_open=True)
        try:
            while True:
                try:
                    item = self.q.get(timeout=0.1 if self.engine.waiting else 0.5)
                except queue.Empty:
                    item = ()
                if item is None:
                    break
                try:
                    if item:
                        self._handle(item)
                    self._periodic()
                except Exception:
                    log.exception("DB 线程处理失败")
        finally:
            db.database.close()

    def _handle(self, item: tuple[Any, ...]) -> None:
        if item[0] == "event":
            ev = item[1]
            if ev["kind"] == "recording" and ev.get("action") == "finished":
                ev.update(service.finish_recording_file(self.engine.cfg.recordings_dir / ev["path"]))
            for attempt in range(5):
                try:
                    service.record_event(ev)
                    break
                except Exception as exc:  # a busy database must not lose events
                    if attempt == 4 or "locked" not in str(exc).lower():
                        log.exception("写入通话事件失败：%s", ev.get("kind"))
                        break
                    time.sleep(0.2 * (attempt + 1))
            if ev["kind"] == "queued":
                self.last_claim = 0.0
        else:
            _, fn, reply = item
            try:
                result, error = fn(), None
            except Exception as exc:
                result, error = None, exc
            self.engine.post(lambda: reply(result, error))

    def _periodic(self) -> None:
        now = time.monotonic()
        eng = self.engine
        if now - self.last_beat >= 3.0:
            service.heartbeat(eng.name)
            self.last_beat = now
        if eng.watch_registrations and now - self.last_registrations >= REGISTRATION_POLL_S:
            self.last_registrations = now
            registered = kamailio.registered_extensions(eng.cfg)
            if registered is not None:
                service.update_registrations(registered)
        if now - self.last_menus_check >= config.CHECK_SECONDS:
            self.last_menus_check = now
            self._reload_menus_if_changed()
        if eng.waiting and now - self.last_claim >= 0.15 and eng.free_legs() > 0:
            self.last_claim = now
            offer = service.claim_next(eng.name)
            if offer is not None:
                self.last_claim = 0.0
                eng.post(lambda: eng.on_offer(offer))

    def _reload_menus_if_changed(self) -> None:
        """An administrator's menu edit (the "ivr" counter) reaches new calls without a restart:
        read the menus and prepare their prompts here, off the SIP thread, then swap them in there.
        Calls already in the IVR finish on the menus they started with."""
        eng = self.engine
        version = config.version("ivr")
        if version == eng.menus_version:
            return
        menus = service.load_menus()
        durations = {}
        for p in ivr.all_prompts(menus):
            path = eng.prompts.ensure(p)
            if str(path) not in eng.durations:
                durations[str(path)] = wav_duration(path)
        eng.post(lambda: eng.use_menus(menus, durations, version))
        log.info("语音导航菜单已更新（版本 %s）", version)


class ControlHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        engine: CallEngine = self.server.engine  # type: ignore[attr-defined]
        line = self.rfile.readline(65536)
        try:
            cmd = json.loads(line)
            if not isinstance(cmd, dict):
                raise ValueError
        except ValueError:
            self.wfile.write(
                json.dumps({"ok": False, "error": "命令格式错误"}, ensure_ascii=False).encode() + b"\n"
            )
            return
        box: queue.Queue[dict[str, Any]] = queue.Queue()
        engine.post(lambda: engine.command(cmd, box.put))
        try:
            reply = box.get(timeout=10)
        except queue.Empty:
            reply = {"ok": False, "error": "引擎无响应"}
        self.wfile.write(json.dumps(reply, ensure_ascii=False).encode() + b"\n")


class ControlServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class CallEngine:
    def __init__(
        self, cfg: tconfig.TelephonyConfig, name: str, sip_port: int, control_port: int, rtp_port: int
    ):
        self.cfg, self.name = cfg, name
        self.sip_port, self.control_port, self.rtp_port = sip_port, control_port, rtp_port
        self.inbox: collections.deque[tuple[Leg, str, Any, Any]] = collections.deque()
        self.posts: collections.deque[Callable[[], None]] = collections.deque()
        self.timers: list[tuple[float, int, Callable[[], None]]] = []
        self.seq = itertools.count()
        self.legs: set[Leg] = set()
        # Disconnected legs wait here until nothing else references them and no live call has
        # taken over their PJSUA call slot: pj.Call's destructor clears the user data of its slot
        # and hangs up whatever call is active there, so a late destruction (a timer closure or a
        # DB-thread callback dropping the last reference) would cut off a new caller.
        self.dead: list[Leg] = []
        self.sessions: dict[str, Session] = {}
        self.waiting: set[str] = set()
        self.stopping = False
        self.prompts = PromptLibrary(cfg.prompts_dir)
        self.durations: dict[str, float] = {}
        self.menus: dict[str, ivr.MenuSpec] = {}
        self.menus_version = 0  # the "ivr" config counter the menus were read at
        self.db_worker = DbWorker(self)
        self.control: ControlServer | None = None
        self.ep: pj.Endpoint | None = None
        self.acc: EngineAccount | None = None
        self.kamailio = f"{cfg.sip_host}:{cfg.sip_port}"
        # The busy announcer answers only the callers every pool engine refused.
        self.announcer = name == tconfig.ANNOUNCER
        # engine-1 reports the agents' softphone registrations (Kamailio's location table)
        self.watch_registrations = name == cfg.engine_name(0)
        self.pending_recordings = 0

    # -- lifecycle ----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Everything that touches disk or DB before SIP starts: recovery, menus, prompts."""
        with db.connection():
            counts = service.recover_engine(self.name, self.cfg.recordings_dir)
            if counts["calls"] or counts["recordings"]:
                log.warning("恢复上次异常退出的通话：%s", counts)
            self.menus_version = config.version("ivr")
            self.menus = service.load_menus()
        for p in ivr.all_prompts(self.menus):
            self._remember(self.prompts.ensure(p))
        self._remember(self.prompts.hold_music())

    def use_menus(self, menus: dict[str, ivr.MenuSpec], durations: dict[str, float], version: int) -> None:
        """On the SIP thread: new calls get these menus (see DbWorker._reload_menus_if_changed)."""
        self.durations.update(durations)
        self.menus, self.menus_version = menus, version

    def _remember(self, path: Path) -> Path:
        if str(path) not in self.durations:
            self.durations[str(path)] = wav_duration(path)
        return path

    def start(self) -> None:
        ep = pj.Endpoint()
        ep.libCreate()
        epc = pj.EpConfig()
        epc.uaConfig.threadCnt = 0
        epc.uaConfig.mainThreadOnly = True
        epc.uaConfig.maxCalls = PJ_MAX_CALLS
        epc.uaConfig.userAgent = f"hotline12328-{self.name}"
        epc.medConfig.clockRate = 8000
        epc.medConfig.sndClockRate = 8000
        epc.medConfig.noVad = True
        epc.medConfig.ecTailLen = 0
        epc.logConfig.level = 1
        epc.logConfig.consoleLevel = 1
        ep.libInit(epc)
        tc = pj.TransportConfig()
        tc.port = self.sip_port
        tc.boundAddress = "127.0.0.1" if self.cfg.sip_host == "127.0.0.1" else ""
        tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
        self.sip_port = int(ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])
        ep.libStart()
        ep.audDevManager().setNullDev()
        for c in ep.codecEnum2():
            ep.codecSetPriority(c.codecId, 255 if c.codecId.startswith(("PCMA", "PCMU")) else 0)
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{self.cfg.service_number}@{self.cfg.sip_host}:{self.sip_port}"
        acfg.mediaConfig.transportConfig.port = self.rtp_port
        acfg.mediaConfig.transportConfig.portRange = 40
        if self.cfg.sip_host == "127.0.0.1":
            acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
        acc = EngineAccount(self)
        acc.create(acfg, True)
        self.ep, self.acc = ep, acc
        self.control = ControlServer(("127.0.0.1", self.control_port), ControlHandler)
        self.control.engine = self  # type: ignore[attr-defined]
        self.control_port = self.control.server_address[1]
        threading.Thread(target=self.control.serve_forever, name="telephony-control", daemon=True).start()
        with db.connection():
            service.engine_started(self.name, self.sip_port, self.control_port, os.getpid())
        self.db_worker.start()
        log.info("引擎 %s 已启动：SIP %s，控制端口 %s", self.name, self.sip_port, self.control_port)

    def run(self) -> None:
        assert self.ep is not None
        while not self.stopping:
            self.ep.libHandleEvents(self._poll_ms())
            self._pump()
            if self.dead:
                self._reap()
        self._shutdown()

    def _poll_ms(self) -> int:
        """How long PJSIP may wait for network events: SIP traffic wakes it at once, so only
        timers and posts from other threads bound the wait. An idle engine polls 20 times a
        second instead of 100 (its loop was most of an idle engine's CPU)."""
        if self.posts or self.inbox:
            return 0
        if self.timers:
            return max(0, min(IDLE_POLL_MS, int((self.timers[0][0] - time.monotonic()) * 1000) + 1))
        return IDLE_POLL_MS

    def _reap(self) -> None:
        """Destroy dead legs at a moment when that is harmless (see `dead`)."""
        busy = {leg.getId() for leg in self.legs}
        keep: list[Leg] = []
        for leg in self.dead:
            # references: the list, this loop variable, getrefcount's argument
            if sys.getrefcount(leg) > 3 or leg.getId() in busy:
                keep.append(leg)
        self.dead = keep

    def _pump(self) -> None:
        if self.inbox:
            # New callers are answered before anything else is done for calls already up
            # (starting their recording and prompts), so a burst of INVITEs is not queued behind
            # media work; each leg's own events keep their order.
            batch = list(self.inbox)
            self.inbox.clear()
            batch.sort(key=lambda item: item[1] != "incoming")
            for leg, kind, a, b in batch:
                try:
                    self._on_leg(leg, kind, a, b)
                except Exception:
                    log.exception("处理呼叫事件失败：%s", kind)
            del batch, leg
        while self.posts:
            fn = self.posts.popleft()
            try:
                fn()
            except Exception:
                log.exception("处理回调失败")
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            _, _, fn = heapq.heappop(self.timers)
            try:
                fn()
            except Exception:
                log.exception("定时任务失败")

    def _shutdown(self) -> None:
        assert self.ep is not None
        for s in list(self.sessions.values()):
            s.end_reason = s.end_reason or "dropped"
            self._hangup(s.leg)  # no loop variable: it would keep a pj.Call past libDestroy
            self._hangup(s.agent_leg)
        deadline = time.monotonic() + 2.0
        while (self.sessions or any(not leg.gone for leg in self.legs)) and time.monotonic() < deadline:
            self.ep.libHandleEvents(10)
            self._pump()
        for s in list(self.sessions.values()):
            self._close(s)
        self._pump()
        deadline = time.monotonic() + RECORDING_CLOSE_S + 0.5
        while self.pending_recordings > 0 and time.monotonic() < deadline:
            self.ep.libHandleEvents(10)
            self._pump()
        self.legs.clear()
        self.dead.clear()
        self.sessions.clear()
        self.timers.clear()  # closures hold sessions, and sessions hold pj.Call objects
        self.inbox.clear()
        self.db_worker.stop()
        self.db_worker.join(timeout=15)
        if self.control is not None:
            self.control.shutdown()
            self.control.server_close()
        with db.connection():
            service.engine_stopped(self.name)
        self.posts.clear()
        self.inbox.clear()
        self.acc = None
        gc.unfreeze()
        gc.collect()
        self.ep.libDestroy(pj.PJSUA_DESTROY_NO_NETWORK)
        self.ep = None

    # -- plumbing -----------------------------------------------------------------------------
    def post(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the loop thread (thread-safe)."""
        self.posts.append(fn)

    def after(self, seconds: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self.timers, (time.monotonic() + max(0.0, seconds), next(self.seq), fn))

    def emit(self, kind: str, s: Session, **data: Any) -> None:
        self.db_worker.event({"kind": kind, "call": s.uuid, "at": clock.now(), **data})

    def free_legs(self) -> int:
        # list() copies the set in one step: the DB thread asks while the loop adds and drops legs
        return PJ_MAX_CALLS - sum(1 for leg in list(self.legs) if not leg.gone)

    def callers(self) -> int:
        return len(self.sessions)

    def _hangup(self, leg: Leg | None, code: int = 0) -> None:
        if leg is None or leg.gone:
            return
        try:
            op = pj.CallOpParam()
            if code:
                op.statusCode = code
            leg.hangup(op)
        except pj.Error as exc:
            log.debug("挂机失败：%s", exc.info())

    def _timed(self, s: Session, seconds: float, fn: Callable[[], None]) -> None:
        """A timer that is void once the session moved on (its generation changed)."""
        gen = s.gen

        def fire() -> None:
            if s.gen == gen and s.state != "ended":
                fn()

        self.after(seconds, fire)

    # -- audio --------------------------------------------------------------------------------
    def _path(self, p: Prompt) -> Path | None:
        path = self.prompts.path_for(p)
        if not path.exists():
            log.warning("缺少提示音：%s", p.text[:30])
            return None
        return self._remember(path)

    def _play(self, s: Session, prompts: list[Prompt]) -> float:
        s.player = None
        paths = [p for p in (self._path(x) for x in prompts) if p is not None]
        if not paths or s.am is None:
            return 0.0
        player = pj.AudioMediaPlayer()
        if len(paths) == 1:
            player.createPlayer(str(paths[0]), pj.PJMEDIA_FILE_NO_LOOP)
        else:
            names = pj.StringVector()
            for p in paths:
                names.append(str(p))
            player.createPlaylist(names, "", pj.PJMEDIA_FILE_NO_LOOP)
        player.startTransmit(s.am)
        if s.rec is not None:
            player.startTransmit(s.rec)
        s.player = player
        return sum(self.durations.get(str(p), 0.0) for p in paths)

    def _start_hold(self, s: Session) -> None:
        if s.state not in ("queued", "offered") or s.am is None or s.hold is not None:
            return
        s.player = None
        hold = pj.AudioMediaPlayer()
        hold.createPlayer(str(self.prompts.hold_music()), 0)
        hold.startTransmit(s.am)
        s.hold = hold

    def _announce(self, s: Session, prompts: list[Prompt]) -> None:
        """Interrupt hold music with a prompt, then resume it."""
        s.hold = None
        s.gen += 1
        dur = self._play(s, prompts)
        s.busy_until = time.monotonic() + dur + 0.2
        self._timed(s, dur + 0.2, lambda: self._start_hold(s))

    def _start_recording(self, s: Session) -> None:
        day = clock.now()
        rel = f"{day:%Y/%m/%d}/{s.uuid}.wav"
        path = self.cfg.recordings_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        rec = pj.AudioMediaRecorder()
        rec.createRecorder(str(path), 0, 0, pj.PJMEDIA_FILE_WRITE_ALAW)
        assert s.am is not None
        s.am.startTransmit(rec)
        s.rec, s.rec_rel = rec, rel
        self.emit("recording", s, action="started", path=rel, retention_days=self.cfg.retention_days)

    # -- leg events ---------------------------------------------------------------------------
    def _on_leg(self, leg: Leg, kind: str, a: Any, b: Any) -> None:
        if kind == "incoming":
            self._incoming(leg)
            return
        if kind == "state":
            if a == CONFIRMED:
                leg.confirmed = True
            if a == DISCONNECTED:
                leg.gone = True
                leg.am = None
        elif kind == "media" and not leg.gone and leg.am is None:
            try:
                ci = leg.getInfo()
                for i, mi in enumerate(ci.media):
                    if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                        leg.am = leg.getAudioMedia(i)
                        break
            except pj.Error:
                return
        s = leg.owner
        if leg.role == "caller":
            if s is not None:
                self._caller_event(s, leg, kind, a, b)
        elif leg.role == "monitor":
            if s is not None:
                self._monitor_event(s, leg, kind, a)
        elif leg.role == "consult":
            if s is not None:
                self._consult_event(s, leg, kind, a, b)
        elif s is not None:
            self._agent_event(s, leg, kind, a, b)
        if leg.gone:
            if leg in self.legs:
                self.legs.discard(leg)
                self.dead.append(leg)
            if s is not None and leg is s.agent_leg and s.state != "talking":
                s.agent_leg = None
            leg.owner = None

    def _incoming(self, leg: Leg) -> None:
        op = pj.CallOpParam()
        limit = PJ_MAX_CALLS if self.announcer else self.cfg.callers_per_engine
        if self.stopping or self.callers() >= limit:
            op.statusCode = 486 if not self.stopping else 503
            log.info(
                "拒绝来电（%s）：来电 %s/%s，会话 %s",
                op.statusCode,
                self.callers(),
                limit,
                list(self.sessions),
            )
            leg.answer(op)
            return
        ci = leg.getInfo()
        m = URI_USER.search(ci.remoteUri)
        caller = m.group(1) if m else ""
        dialed = URI_USER.search(ci.localUri)
        s = Session(uuidlib.uuid4().hex, leg, "inbound")
        leg.owner = s
        if self.announcer:
            s.state = "busy"
        else:
            s.ivr = ivr.IvrSession(self.menus)
        self.sessions[s.uuid] = s
        op.statusCode = 200
        leg.answer(op)
        answer_ms = round((time.monotonic() - leg.t_in) * 1000, 2) if leg.t_in else None
        now = clock.now()
        self.db_worker.event(
            {
                "kind": "incoming",
                "call": s.uuid,
                "at": now,
                "answered_at": now,
                "engine": self.name,
                "caller": caller,
                "dialed": dialed.group(1) if dialed else "",
                "sip_call_id": ci.callIdString,
                "direction": "inbound",
                "answer_ms": answer_ms,
            }
        )
        if self.announcer:
            self.emit("overflow", s, engines=self.cfg.engines)

    def _caller_event(self, s: Session, leg: Leg, kind: str, a: Any, b: Any) -> None:
        if s.click:
            self._click_citizen_event(s, leg, kind, a, b)
            return
        if kind == "media" and leg.am is not None and s.state == "busy":
            self._goodbye(s, "lines_busy", "rejected")
        elif kind == "media" and leg.am is not None and s.rec is None and s.state != "ended":
            self._start_recording(s)
            if s.direction == "outbound":
                self._callback_greeting(s)
            else:
                assert s.ivr is not None
                self._run_step(s, s.ivr.start())
        elif kind == "dtmf":
            self._digit(s, str(a))
        elif kind == "state" and a == DISCONNECTED:
            if s.direction == "outbound" and not leg.confirmed:
                s.end_reason = s.end_reason or "no_answer"
                self.emit("callback_result", s, task_id=s.callback_task, ok=False, result=f"未接通（{b}）")
            self._close(s)

    def _agent_event(self, s: Session, leg: Leg, kind: str, a: Any, b: Any) -> None:
        if leg is not s.agent_leg or s.state == "ended":
            return
        if s.click:
            self._click_agent_event(s, leg, kind, a, b)
            return
        if kind == "state" and a == CONFIRMED and s.state == "offered":
            self.emit("answered", s, agent_id=s.agent_id)
            self._maybe_bridge(s)
        elif kind == "media":
            self._maybe_bridge(s)
        elif kind == "state" and a == DISCONNECTED:
            if s.bridged:
                self._agent_hung_up(s)
            else:
                code = int(b or 0)
                kind_ = (
                    "unreachable" if code in UNREACHABLE_CODES and not leg.cancelled_by_us else "no_answer"
                )
                self.emit(kind_, s, agent_id=s.agent_id, status=code)
                s.agent_leg, s.agent_id = None, None
                if s.state == "offered":
                    s.state = "queued"
                    self.waiting.add(s.uuid)
                    self._start_hold(s)

    def _maybe_bridge(self, s: Session) -> None:
        agent = s.agent_leg
        if s.bridged or agent is None or not agent.confirmed or agent.am is None or s.am is None:
            return
        s.hold = None
        s.player = None
        s.gen += 1
        s.am.startTransmit(agent.am)
        agent.am.startTransmit(s.am)
        if s.rec is not None:
            agent.am.startTransmit(s.rec)
        s.state, s.bridged = "talking", True
        self.emit("bridged", s, agent_id=s.agent_id, recording=s.rec_rel)

    # -- IVR ----------------------------------------------------------------------------------
    def _run_step(self, s: Session, step: ivr.Step) -> None:
        s.gen += 1
        dur = self._play(s, step.play)
        if step.note:
            self.emit("ivr", s, **step.note)
        if step.outcome == "queue":
            self._enqueue(s, step.business, delay=dur)
        elif step.outcome == "hangup":
            s.state, s.end_reason = "closing", "ivr_finished"
            self._timed(s, dur + 0.3, lambda: self._hangup(s.leg))
        elif step.outcome == "lookup":
            self._lookup(s, step.order_number, step.query_code)
        else:
            if step.outcome == "rate":
                self.emit("query_rated", s, order_number=step.order_number, score=int(step.rating))
            self._timed(s, dur + step.timeout_s, lambda: self._ivr_timeout(s))

    def _ivr_timeout(self, s: Session) -> None:
        if s.state == "ivr" and s.ivr is not None:
            self._run_step(s, s.ivr.timeout())

    def _lookup(self, s: Session, number: str, code: str) -> None:
        self.emit("ivr", s, action="order_query", order_number=number)
        prompts = self.prompts

        def work() -> tuple[str | None, Path | None, bool]:
            label, rateable = service.order_query(number, code)
            return label, (prompts.ensure(Prompt("", state_text(label))) if label else None), rateable

        def done(result: Any, error: BaseException | None) -> None:
            if s.state != "ivr" or s.ivr is None:
                return
            label, path, rateable = result if error is None else (None, None, False)
            if error is not None:
                log.error("工单查询失败：%s", error)
            if path is not None:
                self._remember(path)
            self._run_step(s, s.ivr.lookup_result(label, rateable))

        self.db_worker.request(work, done)

    def _digit(self, s: Session, d: str) -> None:
        menu = s.ivr.menu if s.ivr is not None else ""
        # a callback number or a query code being keyed is not logged in clear
        secret = d.isdigit() and (
            (s.state == "queued" and s.qmode == "cb_number")
            or (s.state == "ivr" and s.ivr is not None and s.ivr.mode == "query_code")
        )
        where = f"{s.state}:{menu}" if s.state == "ivr" else f"{s.state}:{s.qmode}"
        self.emit("ivr_key", s, digit=d, menu=where, secret=secret)
        if s.state == "ivr" and s.ivr is not None:
            step = s.ivr.key(d)
            if step is not None:
                self._run_step(s, step)
            else:
                s.player = None  # barge-in: stop the prompt while the caller types
                s.gen += 1
                self._timed(s, s.ivr.current.timeout_s, lambda: self._ivr_timeout(s))
        elif s.state == "queued":
            self._queue_digit(s, d)
        elif s.state == "rating":
            self._rating_digit(s, d)
        elif s.state == "dialing_wait":
            self._callback_digit(s, d)

    # -- queue ----------------------------------------------------------------------------------
    def _enqueue(self, s: Session, business: str, delay: float) -> None:
        s.state, s.business = "queued", business
        self.emit("queued", s, business=business)
        self.waiting.add(s.uuid)
        now = time.monotonic()
        # "正在为您转接人工服务" plays to the end; the first position follows it
        s.busy_until, s.queued_mono, s.next_position = now + delay, now, now + delay + 0.3
        self._timed_any(s, delay + 0.2, lambda: self._start_hold(s))
        self._queue_tick(s)

    def _timed_any(self, s: Session, seconds: float, fn: Callable[[], None]) -> None:
        """A timer that survives prompt changes but not the end of the call."""

        def fire() -> None:
            if s.state != "ended":
                fn()

        self.after(seconds, fire)

    def _queue_tick(self, s: Session, token: int = 0) -> None:
        """What a waiting caller hears next: the callback offer once it is due, otherwise their
        position every `announce_every_s`. One prompt at a time: nothing starts while another is
        still playing, and a position announcement that would run into the offer waits for it."""
        if not token:
            s.tick_token += 1
            token = s.tick_token
        if token != s.tick_token or s.state not in ("queued", "offered"):
            return
        now = time.monotonic()
        wait = 1.0
        if s.state == "queued" and s.qmode == "hold":
            offer_in = s.queued_mono + self.cfg.callback_offer_s - now if not s.cb_offered else float("inf")
            if now < s.busy_until:
                wait = s.busy_until - now + 0.3
            elif offer_in <= 0:
                self._offer_callback(s)
                s.next_position = max(s.next_position, s.busy_until + 1.0)
                wait = s.busy_until - now + 0.3
            elif now >= s.next_position and offer_in > POSITION_ROOM_S:
                s.next_position = now + self.cfg.announce_every_s
                self._ask_position(s)
            else:
                wait = max(0.2, min(s.next_position - now, offer_in))
        self.after(wait, lambda: self._queue_tick(s, token))

    def _ask_position(self, s: Session) -> None:
        def done(result: Any, error: BaseException | None) -> None:
            ok = s.state == "queued" and s.qmode == "hold" and time.monotonic() >= s.busy_until
            if error is None and ok:
                n = int(result)
                p = Prompt("", position_text(n))
                if not self.prompts.path_for(p).exists():
                    p = Prompt("", position_text(ivr.MAX_POSITION))
                self._announce(s, [p])

        uuid = s.uuid
        self.db_worker.request(lambda: service.queue_position(uuid), done)

    def _offer_callback(self, s: Session) -> None:
        if s.state != "queued" or s.cb_offered:
            return
        s.cb_offered = True
        self._announce(s, [ivr.sys_prompt("callback_offer")])
        self.emit("ivr", s, action="callback_offer", ends_in_s=round(s.busy_until - time.monotonic(), 2))

    def _queue_digit(self, s: Session, d: str) -> None:
        if s.qmode == "hold":
            if s.cb_offered and d == "1":
                s.qmode, s.digits = "cb_number", ""
                s.hold = None
                s.gen += 1
                dur = self._play(s, [ivr.sys_prompt("callback_number")])
                self._timed(s, dur + 15, lambda: self._cb_number_timeout(s))
            return
        if d == "#":
            number = s.digits
            if pii.valid_phone(number) and len(number) >= 5:
                self.waiting.discard(s.uuid)
                self.emit("callback_left", s, number=number)
                self._goodbye(s, "callback_thanks", "callback_left")
            else:
                s.digits = ""
                self._play(s, [ivr.sys_prompt("callback_number")])
        elif d == "*":
            s.digits = ""
        elif d.isdigit() and len(s.digits) < 20:
            s.digits += d
            s.player = None

    def _cb_number_timeout(self, s: Session) -> None:
        if s.state == "queued" and s.qmode == "cb_number":
            s.qmode = "hold"
            self._start_hold(s)

    def on_offer(self, offer: service.Offer) -> None:
        """The DB thread claimed an agent for one of our queued callers: ring the agent."""
        s = self.sessions.get(offer.call_uuid)
        if s is None:
            return  # the caller left; the 'ended' event frees the agent
        if s.state != "queued" or self.free_legs() <= 0:
            self.emit("offer_failed", s, agent_id=offer.agent_id)
            return
        if s.qmode == "cb_number":
            s.qmode = "hold"
        self.waiting.discard(s.uuid)
        self._ring_agent(s, offer)

    def _dial(self, s: Session, role: str, target: str, *, internal: bool = True) -> Leg:
        """A new outgoing leg of `s` to `target` (user@host); raises pj.Error when PJSIP refuses.
        Calls to the node's own softphones carry the call id; outside numbers do not."""
        assert self.acc is not None
        leg = Leg(self, self.acc, role)
        leg.owner = s
        prm = pj.CallOpParam(True)
        if internal:
            h = pj.SipHeader()
            h.hName, h.hValue = "X-Hotline-Call", s.uuid
            prm.txOption.headers.append(h)
        leg.makeCall(f"sip:{target}", prm)
        self.legs.add(leg)
        return leg

    def _ring_agent(self, s: Session, offer: service.Offer) -> None:
        try:
            leg = self._dial(s, "agent", f"{offer.extension}@{self.kamailio}")
        except pj.Error as exc:
            log.error("呼叫坐席 %s 失败：%s", offer.extension, exc.info())
            self.emit("offer_failed", s, agent_id=offer.agent_id)
            s.state = "queued"
            self.waiting.add(s.uuid)
            return
        s.state, s.agent_leg, s.agent_id, s.bridged = "offered", leg, offer.agent_id, False
        self._start_hold(s)

        ring_timeout = self._ring_timeout(s, leg)
        self.after(self.cfg.ring_timeout_s, ring_timeout)

    def _ring_timeout(self, s: Session, leg: Leg, attr: str = "agent_leg") -> Callable[[], None]:
        """Hang up `leg` if it still rings for `s` (as its `attr`); holds the leg weakly (see `dead`)."""
        ref = weakref.ref(leg)

        def fire() -> None:
            leg = ref()
            if leg is not None and getattr(s, attr) is leg and not leg.confirmed and not leg.gone:
                self._hangup(leg)

        return fire

    # -- after the agent ---------------------------------------------------------------------
    def _agent_hung_up(self, s: Session) -> None:
        self.emit("agent_hangup", s, agent_id=s.agent_id, wrapup_s=self.cfg.wrapup_s)
        s.agent_leg = None
        self._hangup(s.monitor_leg)
        self._drop_consult(s)
        s.on_hold, s.hold = False, None
        if s.leg is None or s.leg.gone:
            return
        s.state = "rating"
        self._ask_rating(s)

    def _ask_rating(self, s: Session) -> None:
        s.gen += 1
        dur = self._play(s, [ivr.sys_prompt("rating")])
        self._timed(s, dur + self.cfg.rating_timeout_s, lambda: self._rating_timeout(s))

    def _rating_timeout(self, s: Session) -> None:
        if s.state != "rating":
            return
        s.rating_tries += 1
        if s.rating_tries < 2:
            self._ask_rating(s)
            return
        self._goodbye(s, "goodbye", "completed")

    def _rating_digit(self, s: Session, d: str) -> None:
        if d in ("1", "2", "3"):
            self.emit("rated", s, score=int(d))
            self._goodbye(s, "rating_thanks", "completed")
        else:
            self._rating_timeout(s)

    def _goodbye(self, s: Session, prompt: str, reason: str) -> None:
        s.state, s.end_reason = "closing", reason
        s.gen += 1
        dur = self._play(s, [ivr.sys_prompt(prompt)])
        self._timed(s, dur + 0.3, lambda: self._hangup(s.leg))

    def _close(self, s: Session) -> None:
        """The citizen's leg is gone: end the agent leg, finalize the recording, log the end."""
        if s.state == "ended":
            return
        reason = s.end_reason or {
            "ivr": "caller_hangup",
            "queued": "abandoned",
            "offered": "abandoned",
            "talking": "caller_hangup",
            "rating": "completed",
            "closing": "completed",
            "dialing_wait": "caller_hangup",
        }.get(s.state, "caller_hangup")
        if s.state in ("queued", "offered") and reason == "abandoned":
            self.emit("abandoned", s, agent_id=s.agent_id)
        s.state = "ended"
        s.gen += 1
        self.waiting.discard(s.uuid)
        if s.agent_leg is not None:
            s.agent_leg.cancelled_by_us = True
            self._hangup(s.agent_leg)
        self._hangup(s.monitor_leg)
        self._drop_consult(s)
        s.player = None
        s.hold = None
        had_rec = s.rec is not None
        s.rec = None  # destroying the recorder writes the WAV header ...
        self.emit("ended", s, reason=reason, agent_id=s.agent_id, wrapup_s=self.cfg.wrapup_s)
        if had_rec:
            # ... but PJSIP 2.15 removes the recorder from the conference bridge on its media
            # clock, a tick later: the recording is reported once its header is written.
            path, rel = self.cfg.recordings_dir / s.rec_rel, s.rec_rel
            self.pending_recordings += 1
            self._when_written(path, lambda: self._recording_done(s, rel))
        self.sessions.pop(s.uuid, None)
        # Timers and DB replies may still hold the session; they must not keep its legs alive.
        s.leg = s.agent_leg = s.monitor_leg = s.consult_leg = None

    def _when_written(self, path: Path, fn: Callable[[], None], deadline: float = 0.0) -> None:
        deadline = deadline or time.monotonic() + RECORDING_CLOSE_S
        try:
            written = not audio.needs_repair(path)
        except OSError:
            written = False
        if written or time.monotonic() > deadline:
            fn()
        else:
            self.after(0.02, lambda: self._when_written(path, fn, deadline))

    def _recording_done(self, s: Session, rel: str) -> None:
        self.pending_recordings -= 1
        self.emit("recording", s, action="finished", path=rel)

    # -- outbound callbacks ----------------------------------------------------------------------
    def _callback_greeting(self, s: Session) -> None:
        s.state = "dialing_wait"
        s.gen += 1
        dur = self._play(s, [ivr.sys_prompt("callback_greeting")])
        self._timed(s, dur + 10, lambda: self._callback_no_key(s))

    def _callback_no_key(self, s: Session) -> None:
        if s.state == "dialing_wait":
            self.emit("callback_result", s, task_id=s.callback_task, ok=False, result="回电已接通但未按键")
            self._goodbye(s, "goodbye", "completed")

    def _callback_digit(self, s: Session, d: str) -> None:
        if d == "1":
            self.emit("callback_result", s, task_id=s.callback_task, ok=True, result="来电人要求人工服务")
            self.emit("queued", s, business=s.business, requeue=True)
            s.state = "queued"
            self.waiting.add(s.uuid)
            self._start_hold(s)
        elif d == "2":
            self.emit("callback_result", s, task_id=s.callback_task, ok=True, result="来电人表示无需回电")
            self._goodbye(s, "goodbye", "completed")

    def start_callback(
        self, task_id: int, number: str, business: str, reply: Callable[[dict[str, Any]], None]
    ) -> None:
        if self.callers() >= self.cfg.callers_per_engine or self.free_legs() < 2:
            reply({"ok": False, "error": "引擎线路已满"})
            return
        s = Session(uuidlib.uuid4().hex, None, "outbound")
        s.callback_task, s.business, s.state = task_id, business, "dialing"
        target = number if "@" in number else f"{number}@{self.cfg.pstn_gateway or self.kamailio}"
        try:
            s.leg = self._dial(s, "caller", target, internal=False)
        except pj.Error as exc:
            reply({"ok": False, "error": f"外呼失败：{exc.reason}"})
            return
        self.sessions[s.uuid] = s
        self.emit(
            "incoming",
            s,
            engine=self.name,
            caller=number,
            dialed=number,
            direction="outbound",
            callback_task=task_id,
        )
        reply({"ok": True, "call_id": s.uuid})

    # -- commands from the web ----------------------------------------------------------------
    def command(self, cmd: dict[str, Any], reply: Callable[[dict[str, Any]], None]) -> None:
        name = cmd.get("cmd")
        if name == "ping":
            reply(
                {
                    "ok": True,
                    "engine": self.name,
                    "calls": self.callers(),
                    "legs": PJ_MAX_CALLS - self.free_legs(),
                    "dead_legs": len(self.dead),
                    "menus_version": self.menus_version,
                }
            )
        elif name == "snapshot":
            reply(
                {
                    "ok": True,
                    "engine": self.name,
                    "calls": [
                        {"call_id": s.uuid, "state": s.state, "agent_id": s.agent_id, "business": s.business}
                        for s in self.sessions.values()
                    ],
                }
            )
        elif name == "hangup":
            s = self.sessions.get(str(cmd.get("call", "")))
            if s is None:
                reply({"ok": False, "error": "通话不存在"})
                return
            self._hangup(s.leg)
            reply({"ok": True})
        elif name == "transfer":
            self._transfer(cmd, reply)
        elif name in ("agent_hangup", "hold", "unhold"):
            self._agent_command(name, cmd, reply)
        elif name in ("consult", "consult_transfer", "consult_cancel"):
            self._consult_command(name, cmd, reply)
        elif name == "monitor":
            self._monitor(cmd, reply)
        elif name == "callback":
            self._callback_command(cmd, reply)
        elif name == "click_dial":
            self._click_command(cmd, reply)
        else:
            reply({"ok": False, "error": f"未知命令：{name}"})

    def _talking(self, cmd: dict[str, Any], reply: Callable[[dict[str, Any]], None]) -> Session | None:
        s = self.sessions.get(str(cmd.get("call", "")))
        if s is None or s.state != "talking" or not s.bridged or s.agent_leg is None:
            reply({"ok": False, "error": "该来电不在通话中"})
            return None
        return s

    def _agent_command(self, name: str, cmd: dict[str, Any], reply: Callable[[dict[str, Any]], None]) -> None:
        """The agent's phone bar: hang up their leg (the caller goes on to the rating), or hold the
        caller (hold music, the agent hears nothing) and take them back."""
        s = self._talking(cmd, reply)
        if s is None:
            return
        agent = s.agent_leg
        assert agent is not None
        if name == "agent_hangup":
            self._hangup(agent)
        elif s.consult_leg is not None:
            reply({"ok": False, "error": "正在咨询，请先结束咨询或转给咨询方"})
            return
        elif name == "hold":
            if s.on_hold:
                reply({"ok": False, "error": "来电已在保持中"})
                return
            self._hold(s)
        else:
            if not s.on_hold:
                reply({"ok": False, "error": "来电未处于保持"})
                return
            self._unhold(s)
        reply({"ok": True})

    def _hold(self, s: Session) -> None:
        """The caller hears hold music and nothing of the agent; the recording goes on."""
        agent = s.agent_leg
        if s.am is not None and agent is not None and agent.am is not None:
            s.am.stopTransmit(agent.am)
            agent.am.stopTransmit(s.am)
        s.on_hold = True
        hold = pj.AudioMediaPlayer()
        hold.createPlayer(str(self.prompts.hold_music()), 0)
        if s.am is not None:
            hold.startTransmit(s.am)
        s.hold = hold
        self.emit("hold", s, agent_id=s.agent_id)

    def _unhold(self, s: Session) -> None:
        agent = s.agent_leg
        s.hold = None
        s.on_hold = False
        if s.am is not None and agent is not None and agent.am is not None:
            s.am.startTransmit(agent.am)
            agent.am.startTransmit(s.am)
        self.emit("unhold", s, agent_id=s.agent_id)

    def _consult_command(
        self, name: str, cmd: dict[str, Any], reply: Callable[[dict[str, Any]], None]
    ) -> None:
        """咨询: the agent puts the caller on hold and rings a colleague (`consult`); then hands the
        caller over (`consult_transfer`, an attended transfer) or ends the consultation and takes
        the caller back (`consult_cancel`)."""
        s = self._talking(cmd, reply)
        if s is None:
            return
        if name == "consult":
            extension = str(cmd.get("extension", ""))
            if s.consult_leg is not None:
                reply({"ok": False, "error": "已在咨询中"})
            elif not (extension.isdigit() and 3 <= len(extension) <= 8):
                reply({"ok": False, "error": "坐席分机号须为3到8位数字"})
            elif self.free_legs() <= 0:
                reply({"ok": False, "error": "本引擎线路已满，暂不能咨询"})
            else:
                self._start_consult(s, extension, reply)
            return
        c = s.consult_leg
        if c is None:
            reply({"ok": False, "error": "当前没有咨询"})
            return
        if name == "consult_cancel":
            c.owner = None
            self._end_consult(s, c, 0)
            self._hangup(c)
            self._unhold(s)
            reply({"ok": True})
            return
        if not s.consult_talking or c.am is None or s.am is None:
            reply({"ok": False, "error": "咨询方尚未接听"})
            return
        old, old_agent = s.agent_leg, s.agent_id
        self.emit(
            "transferred",
            s,
            from_agent_id=old_agent,
            wrapup_s=self.cfg.wrapup_s,
            target="agent",
            agent_id=s.consult_agent_id,
        )
        self._hangup(s.monitor_leg)
        c.role = "agent"
        s.agent_leg, s.agent_id = c, s.consult_agent_id
        s.consult_leg, s.consult_agent_id, s.consult_talking = None, None, False
        if old is not None:
            old.owner = None
            self._hangup(old)
        s.hold, s.on_hold = None, False
        s.am.startTransmit(c.am)
        c.am.startTransmit(s.am)
        if s.rec is not None:
            c.am.startTransmit(s.rec)
        self.emit("answered", s, agent_id=s.agent_id)
        self.emit("bridged", s, agent_id=s.agent_id, recording=s.rec_rel)
        reply({"ok": True})

    def _start_consult(self, s: Session, extension: str, reply: Callable[[dict[str, Any]], None]) -> None:
        def done(result: Any, error: BaseException | None) -> None:
            if error is not None:
                reply({"ok": False, "error": getattr(error, "message", str(error))})
                return
            if s.state != "talking" or s.consult_leg is not None or self.acc is None:
                self.emit("offer_failed", s, agent_id=result.agent_id)
                reply({"ok": False, "error": "通话已变化，未发起咨询"})
                return
            try:
                leg = self._dial(s, "consult", f"{result.extension}@{self.kamailio}")
            except pj.Error as exc:
                self.emit("offer_failed", s, agent_id=result.agent_id)
                reply({"ok": False, "error": f"呼叫咨询方失败：{exc.reason}"})
                return
            if not s.on_hold:
                self._hold(s)
            s.consult_leg, s.consult_agent_id, s.consult_talking = leg, result.agent_id, False
            self.emit(
                "consult",
                s,
                agent_id=s.agent_id,
                phase="ringing",
                to_agent_id=result.agent_id,
                extension=result.extension,
            )
            self.after(self.cfg.ring_timeout_s, self._ring_timeout(s, leg, attr="consult_leg"))
            reply({"ok": True})

        name, uuid = self.name, s.uuid
        self.db_worker.request(lambda: service.claim_agent(name, uuid, extension), done)

    def _consult_event(self, s: Session, leg: Leg, kind: str, a: Any, b: Any) -> None:
        if leg is not s.consult_leg or s.state == "ended":
            return
        if kind in ("state", "media") and leg.confirmed and leg.am is not None and not s.consult_talking:
            agent = s.agent_leg
            if agent is not None and agent.am is not None:
                agent.am.startTransmit(leg.am)
                leg.am.startTransmit(agent.am)
            s.consult_talking = True
            self.emit("consult", s, agent_id=s.agent_id, phase="talking", to_agent_id=s.consult_agent_id)
        elif kind == "state" and a == DISCONNECTED:
            self._end_consult(s, leg, int(b or 0))

    def _drop_consult(self, s: Session) -> None:
        c = s.consult_leg
        if c is not None:
            self._end_consult(s, c, 0)
            c.owner = None
            self._hangup(c)

    def _end_consult(self, s: Session, leg: Leg, status: int) -> None:
        """The consulted colleague left (or was never reached): the caller stays on hold."""
        if s.consult_leg is not leg:
            return
        self.emit(
            "consult", s, agent_id=s.agent_id, phase="ended", to_agent_id=s.consult_agent_id, status=status
        )
        s.consult_leg, s.consult_agent_id, s.consult_talking = None, None, False

    def _monitor(self, cmd: dict[str, Any], reply: Callable[[dict[str, Any]], None]) -> None:
        """班长监听/耳语/强插: ring the supervisor's extension and mix them into a talking call.
        listen = hears caller and agent; whisper = also speaks to the agent only; barge = speaks
        to both (and into the recording). A second command on the same call changes the mode."""
        s = self._talking(cmd, reply)
        if s is None:
            return
        mode = str(cmd.get("mode", "listen"))
        if mode not in MONITOR_MODES:
            reply({"ok": False, "error": "监听方式无效"})
            return
        if s.monitor_leg is not None and not s.monitor_leg.gone:
            s.monitor_mode = mode
            self._connect_monitor(s)
            self.emit("monitor", s, agent_id=s.monitor_agent_id, mode=mode)
            reply({"ok": True, "mode": mode})
            return
        extension = str(cmd.get("extension", ""))
        if not extension.isdigit() or self.free_legs() <= 0:
            reply(
                {
                    "ok": False,
                    "error": "本引擎线路已满，暂不能监听" if extension.isdigit() else "缺少班长分机",
                }
            )
            return
        try:
            leg = self._dial(s, "monitor", f"{extension}@{self.kamailio}")
        except pj.Error as exc:
            reply({"ok": False, "error": f"呼叫班长分机失败：{exc.reason}"})
            return
        s.monitor_leg, s.monitor_mode = leg, mode
        s.monitor_agent_id = cmd.get("agent_id") if isinstance(cmd.get("agent_id"), int) else None
        self.emit("monitor", s, agent_id=s.monitor_agent_id, mode=mode, extension=extension)
        reply({"ok": True, "mode": mode})

    def _connect_monitor(self, s: Session) -> None:
        sup, agent = s.monitor_leg, s.agent_leg
        if (
            sup is None
            or sup.am is None
            or not sup.confirmed
            or s.am is None
            or agent is None
            or agent.am is None
        ):
            return
        s.am.startTransmit(sup.am)
        agent.am.startTransmit(sup.am)
        if s.monitor_mode in ("whisper", "barge"):
            sup.am.startTransmit(agent.am)
        else:
            sup.am.stopTransmit(agent.am)
        if s.monitor_mode == "barge":
            sup.am.startTransmit(s.am)
            if s.rec is not None:
                sup.am.startTransmit(s.rec)
        else:
            sup.am.stopTransmit(s.am)
            if s.rec is not None:
                sup.am.stopTransmit(s.rec)

    def _monitor_event(self, s: Session, leg: Leg, kind: str, a: Any) -> None:
        if leg is not s.monitor_leg:
            return
        if kind in ("media", "state") and not leg.gone:
            self._connect_monitor(s)
        elif kind == "state" and a == DISCONNECTED:
            s.monitor_leg, s.monitor_mode = None, ""
            if s.state != "ended":
                self.emit("monitor", s, agent_id=s.monitor_agent_id, mode="ended")

    def _transfer(self, cmd: dict[str, Any], reply: Callable[[dict[str, Any]], None]) -> None:
        """Move a talking caller away from their agent: to another agent (`extension`), back into
        a queue (`queue` = business code) or to an outside number (`number`, through the PSTN
        gateway). The engine stays in the media path, so the recording continues."""
        uuid = str(cmd.get("call", ""))
        s = self.sessions.get(uuid)
        if s is None or s.state != "talking":
            reply({"ok": False, "error": "只有通话中的来电可以转接"})
            return
        try:
            target, value = service.parse_transfer(cmd)
        except ValidationError as exc:
            reply({"ok": False, "error": exc.message})
            return
        if target == "extension":
            self._transfer_to_agent(s, value, reply)
            return
        business, number = (value, "") if target == "queue" else ("", value)
        old = self._drop_agent(s, target=target, queue=business, number=number)
        if business:
            s.state, s.business = "queued", business
            self.emit("queued", s, business=business, requeue=True)
            self.waiting.add(s.uuid)
            self._start_hold(s)
            s.queued_mono = s.next_position = time.monotonic()
            s.cb_offered = True  # a transferred caller is not offered a callback
            self._queue_tick(s)
        else:
            s.state = "offered"
            self._start_hold(s)
            self._after_gone(old, lambda: self._dial_out(s, number))
        reply({"ok": True})

    def _drop_agent(self, s: Session, **transfer: Any) -> Leg | None:
        """Log the transfer, release the current agent (wrap-up) and hang up their leg."""
        old_leg, old_agent = s.agent_leg, s.agent_id
        self._drop_consult(s)
        self.emit("transferred", s, from_agent_id=old_agent, wrapup_s=self.cfg.wrapup_s, **transfer)
        self._hangup(s.monitor_leg)
        s.on_hold = False
        if old_leg is not None:
            old_leg.owner = None
            self._hangup(old_leg)
        s.agent_leg, s.bridged = None, False
        if transfer.get("target") != "agent":
            s.agent_id = None
        return old_leg

    def _after_gone(self, leg: Leg | None, fn: Callable[[], None], deadline: float = 0.0) -> None:
        """Run `fn` once `leg` has left its call slot (the wheel has only 4), or after 3 s."""
        deadline = deadline or time.monotonic() + 3.0
        if leg is None or leg.gone or time.monotonic() > deadline:
            fn()
        else:
            self.after(0.02, lambda: self._after_gone(leg, fn, deadline))

    def _transfer_to_agent(self, s: Session, extension: str, reply: Callable[[dict[str, Any]], None]) -> None:
        def done(result: Any, error: BaseException | None) -> None:
            if error is not None:
                reply({"ok": False, "error": str(error)})
                return
            if s.state != "talking":
                self.emit("offer_failed", s, agent_id=result.agent_id)
                reply({"ok": False, "error": "通话已结束"})
                return
            old = self._drop_agent(s, target="agent", agent_id=result.agent_id)
            s.state = "offered"
            self._start_hold(s)
            self._after_gone(old, lambda: self._ring_agent(s, result) if s.state == "offered" else None)
            reply({"ok": True})

        name, uuid = self.name, s.uuid
        self.db_worker.request(lambda: service.claim_agent(name, uuid, extension), done)

    def _dial_out(self, s: Session, number: str) -> None:
        """Ring an outside number for a transferred caller and bridge it like an agent leg."""
        if s.state != "offered":
            return
        target = f"{number}@{self.cfg.pstn_gateway or self.kamailio}"
        try:
            leg = self._dial(s, "agent", target, internal=False)
        except pj.Error as exc:
            log.error("转接外部号码失败：%s", exc.info())
            self.emit("unreachable", s, status=0)
            s.state = "queued"
            self.waiting.add(s.uuid)
            return
        s.agent_leg = leg

        ring_timeout = self._ring_timeout(s, leg)
        self.after(max(self.cfg.ring_timeout_s, 30.0), ring_timeout)

    def _callback_command(self, cmd: dict[str, Any], reply: Callable[[dict[str, Any]], None]) -> None:
        try:
            task_id = int(cmd.get("task_id", 0))
        except (TypeError, ValueError):
            reply({"ok": False, "error": "回电任务编号无效"})
            return

        def done(result: Any, error: BaseException | None) -> None:
            if error is not None:
                reply({"ok": False, "error": str(error)})
            else:
                self.start_callback(task_id, result[0], result[1], reply)

        self.db_worker.request(lambda: service.begin_callback(task_id), done)

    # -- 回访外呼 (click-to-dial) --------------------------------------------------------------
    def _line_free(self) -> bool:
        """Room for a call of two legs (agent and citizen) on this engine."""
        return self.callers() < self.cfg.callers_per_engine and self.free_legs() >= 2

    def _click_command(self, cmd: dict[str, Any], reply: Callable[[dict[str, Any]], None]) -> None:
        """The web placed a 回访外呼 (`service.place_click_dial`): ring the agent's softphone; the
        citizen is dialled once the agent answers (the number is read here, never sent around)."""
        uuid = str(cmd.get("call", ""))
        if not self._line_free():
            reply({"ok": False, "error": "引擎线路已满"})
            return

        def done(result: Any, error: BaseException | None) -> None:
            if error is not None:
                reply({"ok": False, "error": getattr(error, "message", str(error))})
            else:
                self._start_click(uuid, *result, reply)

        self.db_worker.request(lambda: service.click_dial_info(uuid), done)

    def _start_click(
        self, uuid: str, agent_id: int, extension: str, number: str, reply: Callable[[dict[str, Any]], None]
    ) -> None:
        if uuid in self.sessions or not self._line_free() or self.acc is None:
            reply({"ok": False, "error": "引擎线路已满"})
            return
        s = Session(uuid, None, "outbound")
        s.click, s.click_number, s.state, s.agent_id = True, number, "click_agent", agent_id
        try:
            leg = self._dial(s, "agent", f"{extension}@{self.kamailio}")
        except pj.Error as exc:
            reply({"ok": False, "error": f"呼叫坐席分机失败：{exc.reason}"})
            return
        s.agent_leg = leg
        self.sessions[uuid] = s
        self.after(self.cfg.ring_timeout_s, self._ring_timeout(s, leg))
        reply({"ok": True, "call_id": uuid})

    def _click_result(self, s: Session, outcome: str, note: str) -> None:
        if not s.click_outcome:
            s.click_outcome = outcome
            s.end_reason = s.end_reason or ("completed" if outcome == "reached" else outcome)
            self.emit("click_result", s, agent_id=s.agent_id, outcome=outcome, note=note)

    def _click_agent_event(self, s: Session, leg: Leg, kind: str, a: Any, b: Any) -> None:
        if kind == "state" and a == CONFIRMED and s.state == "click_agent":
            s.state = "click_dialing"
            self.emit("click_agent", s, agent_id=s.agent_id)
            self._click_dial_citizen(s)
            self._click_connecting(s)
        elif kind == "media":
            self._click_connecting(s)
            self._maybe_bridge(s)
        elif kind == "state" and a == DISCONNECTED:
            s.agent_leg = None
            if s.bridged:  # the agent hung up: the citizen's side ends too
                s.end_reason = s.end_reason or "completed"
            elif s.state == "click_agent":
                code = int(b or 0)
                why = "软电话未注册或不可达" if code in UNREACHABLE_CODES else "坐席软电话未接听"
                self._click_result(s, "not_placed", f"{why}（{code}），未外呼")
            else:
                self._click_result(s, "not_placed", "坐席在市民接听前挂机")
            if s.leg is not None and not s.leg.gone:
                self._hangup(s.leg)  # its disconnection closes the session
            else:
                self._close(s)

    def _click_connecting(self, s: Session) -> None:
        """While the citizen's phone rings the agent hears 「正在为您呼叫市民，请稍候」 (the bridge
        stops it; it is not in the recording, which starts when the citizen answers)."""
        agent = s.agent_leg
        if s.state != "click_dialing" or s.player is not None or agent is None or agent.am is None:
            return
        path = self._path(ivr.sys_prompt("click_connecting"))
        if path is None:
            return
        player = pj.AudioMediaPlayer()
        player.createPlayer(str(path), pj.PJMEDIA_FILE_NO_LOOP)
        player.startTransmit(agent.am)
        s.player = player

    def _click_dial_citizen(self, s: Session) -> None:
        target = f"{s.click_number}@{self.cfg.pstn_gateway or self.kamailio}"
        try:
            s.leg = self._dial(s, "caller", target, internal=False)
        except pj.Error as exc:
            log.error("回访外呼失败：%s", exc.info())
            self._click_result(s, "not_placed", f"外呼失败：{exc.reason}，未外呼"[:100])
            self._hangup(s.agent_leg)
            return
        self.after(self.cfg.citizen_ring_s, self._ring_timeout(s, s.leg, attr="leg"))

    def _click_citizen_event(self, s: Session, leg: Leg, kind: str, a: Any, b: Any) -> None:
        # PJSIP may report the answer's media before the CONFIRMED state: whichever comes first
        if kind == "state" and a == CONFIRMED and not s.click_outcome:
            self._click_result(s, "reached", "市民已接听")
            self.emit("answered", s, agent_id=s.agent_id)
        elif kind == "media" and leg.am is not None and s.rec is None and s.state != "ended":
            if not s.click_outcome:
                self._click_result(s, "reached", "市民已接听")
                self.emit("answered", s, agent_id=s.agent_id)
            self._start_recording(s)
            self._maybe_bridge(s)
        elif kind == "state" and a == DISCONNECTED:
            if not leg.confirmed:
                code = int(b or 0)
                busy = code in (486, 600, 603)
                self._click_result(
                    s, "busy" if busy else "no_answer", "对方忙" if busy else f"无人接听（{code}）"
                )
            self._close(s)


def _install_signals(engine: CallEngine) -> None:
    def stop(signum: int, frame: Any) -> None:
        engine.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _term_with_parent()


def _term_with_parent() -> None:
    """Ask Linux for SIGTERM when the process that started us dies (`hotline run`'s supervisor or
    a test harness killed with SIGKILL), so an engine is never left behind answering calls."""
    import ctypes

    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the supervisor's own stop still applies
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def serve(
    settings: Settings,
    index: int = 0,
    *,
    name: str = "",
    sip_port: int | None = None,
    control_port: int | None = None,
    rtp_port: int | None = None,
) -> None:
    """Run one engine until SIGTERM."""
    cfg = tconfig.load(settings)
    configure_settings(settings)  # the work-order engine (a 回访外呼's attempt) reads the node's region
    db.bind(settings.database_url)
    pii.configure(settings.data_key)
    engine = CallEngine(
        cfg,
        name or cfg.engine_name(index),
        cfg.engine_port(index) if sip_port is None else sip_port,
        cfg.control_port(index) if control_port is None else control_port,
        cfg.rtp_port(index) if rtp_port is None else rtp_port,
    )
    _install_signals(engine)
    # The loop thread must get the GIL back quickly from the DB thread when SIP traffic arrives.
    sys.setswitchinterval(0.001)
    engine.prepare()
    engine.start()
    # Everything allocated so far lives as long as the process: keep it out of the cyclic
    # collector's generations so a collection never walks the imported modules mid-call.
    gc.collect()
    gc.freeze()
    ready = cfg.run_dir / f"{engine.name}.json"
    ready.parent.mkdir(parents=True, exist_ok=True)
    ready.write_text(
        json.dumps(
            {
                "name": engine.name,
                "sip_port": engine.sip_port,
                "control_port": engine.control_port,
                "pid": os.getpid(),
            }
        )
    )
    try:
        engine.run()
    finally:
        ready.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="12328 呼叫引擎进程")
    ap.add_argument("--config", default=None, help="节点目录或 node.toml")
    ap.add_argument("--index", type=int, default=0)
    ap.add_argument("--name", default="")
    ap.add_argument("--sip-port", type=int, default=None)
    ap.add_argument("--control-port", type=int, default=None)
    ap.add_argument("--rtp-port", type=int, default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    settings = load_settings(args.config)
    serve(
        settings,
        args.index,
        name=args.name,
        sip_port=args.sip_port,
        control_port=args.control_port,
        rtp_port=args.rtp_port,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
