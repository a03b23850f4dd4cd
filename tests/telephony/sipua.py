"""A scriptable SIP user agent (PJSUA2, null audio) for tests and the benchmark: citizens calling
12328 and agents' softphones registered at Kamailio. One process, JSON lines on stdin (commands)
and stdout (events). Up to 4 calls per process (the wheel's limit).
Run: python sipua.py RTP_BASE [SIP_PORT]   (SIP_PORT 0 = any free port; a fixed one lets the
node use this UA as its PSTN gateway: every number dialled there rings this process).

Commands: {"op": "register", "user": "8001", "registrar": "sip:127.0.0.1:5060", "tone": 1400,
           "answer_after": 1.0, "talk": 3.0, "answer": true, "password": "digest secret (optional)",
           "record": "/tmp/agent", "reject": 486}   (what the UA hears, to <record>-<call id>.wav;
           `reject` answers every call with that status, e.g. 486 Busy Here)
          {"op": "call", "id": "c1", "uri": "sip:12328@127.0.0.1:5060", "from": "13800138000", "tone": 1000,
           "record": "/tmp/caller.wav"}
          {"op": "dtmf", "id": "c1", "digits": "1"}   (RFC 2833; "method": "info" sends SIP INFO, one
           request per digit, all at once)
          {"op": "hangup", "id": "c1"}     {"op": "quit"}
Events:   {"ev": "registered" | "incoming" | "confirmed" | "disconnected" | "error", ...}

Times are taken in the PJSUA2 callbacks (when PJSIP processed the message), so `setup_ms` of a
"confirmed" event (makeCall → 200 OK) does not include this process's own queueing. Finished calls
are destroyed only when no live call reuses their PJSUA slot (pj.Call's destructor hangs up whatever
call holds its slot), and the process leaves with os._exit after libDestroy so no pj object is
destroyed by the interpreter's shutdown (which aborted on a PJSUA assertion).
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import queue
import shutil
import struct
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path
from typing import Any

import pjsua2 as pj

OUT_LOCK = threading.Lock()


def emit(**ev: Any) -> None:
    ev["t"] = round(time.time(), 4)
    with OUT_LOCK:
        sys.stdout.write(json.dumps(ev) + "\n")
        sys.stdout.flush()


def tone_file(freq: int, folder: Path) -> str:
    path = folder / f"tone{freq}.wav"
    if not path.exists():
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            frames = b"".join(
                struct.pack("<h", int(9000 * math.sin(2 * math.pi * freq * i / 8000)))
                for i in range(8000 * 4)
            )
            w.writeframes(frames)
    return str(path)


class UaCall(pj.Call):
    def __init__(self, ua: Ua, acc: pj.Account, cid: str, tone: int, call_id: int = pj.PJSUA_INVALID_ID):
        pj.Call.__init__(self, acc, call_id)
        self.ua, self.cid, self.tone = ua, cid, tone
        self.player: pj.AudioMediaPlayer | None = None
        self.recorder: pj.AudioMediaRecorder | None = None
        self.record_to = ""
        self.am: pj.AudioMedia | None = None
        self.agent: dict[str, Any] | None = None
        self.started = time.monotonic()
        self.confirmed_at = 0.0
        self.sent = 0.0  # makeCall returned: the INVITE is on the wire

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        try:
            ci = self.getInfo()
            if ci.state == pj.PJSIP_INV_STATE_CONFIRMED and not self.confirmed_at:
                self.confirmed_at = time.monotonic()
            self.ua.inbox.append(("state", self, ci.state, ci.lastStatusCode))
        except Exception as exc:
            emit(ev="error", where="onCallState", error=str(exc))

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        self.ua.inbox.append(("media", self, 0, 0))


class UaAccount(pj.Account):
    def __init__(self, ua: Ua, user: str, behaviour: dict[str, Any]):
        pj.Account.__init__(self)
        self.ua, self.user, self.behaviour = ua, user, behaviour

    def onRegState(self, prm: pj.OnRegStateParam) -> None:
        self.ua.inbox.append(("reg", self, prm.code, 0))

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        self.ua.counter += 1
        call = UaCall(
            self.ua, self, f"{self.user}-in{self.ua.counter}", int(self.behaviour.get("tone", 0)), prm.callId
        )
        call.agent = self.behaviour
        if self.behaviour.get("record"):
            call.record_to = f"{self.behaviour['record']}-{call.cid}.wav"
        self.ua.calls[call.cid] = call
        self.ua.inbox.append(("incoming", call, 0, 0))


class Ua:
    def __init__(self, rtp_port: int, sip_port: int = 0):
        self.inbox: list[tuple[str, Any, int, int]] = []
        self.calls: dict[str, UaCall] = {}
        self.dead: list[UaCall] = []
        self.accounts: dict[str, UaAccount] = {}
        self.timers: list[tuple[float, Any]] = []
        self.counter = 0
        self.folder = Path(tempfile.mkdtemp(prefix="sipua-"))
        self.rtp_port = rtp_port
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = 4
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        cfg.medConfig.noVad = True
        cfg.logConfig.level = 0
        cfg.logConfig.consoleLevel = 0
        self.ep.libInit(cfg)
        tc = pj.TransportConfig()
        tc.port = sip_port
        tc.boundAddress = "127.0.0.1"
        tid = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
        self.sip_port = int(self.ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])
        self.ep.libStart()
        self.ep.audDevManager().setNullDev()
        for c in self.ep.codecEnum2():
            self.ep.codecSetPriority(c.codecId, 255 if c.codecId.startswith(("PCMA", "PCMU")) else 0)

    def account(self, user: str, registrar: str = "", behaviour: dict[str, Any] | None = None) -> UaAccount:
        if user in self.accounts:
            return self.accounts[user]
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{user}@127.0.0.1"
        if registrar:
            acfg.regConfig.registrarUri = registrar
            acfg.regConfig.timeoutSec = 300
            acfg.regConfig.retryIntervalSec = 0  # a refused REGISTER stays refused (tests)
        password = str((behaviour or {}).get("password", ""))
        if password:
            acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", user, 0, password))
        acfg.mediaConfig.transportConfig.port = self.rtp_port
        acfg.mediaConfig.transportConfig.portRange = 20
        acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
        acc = UaAccount(self, user, behaviour or {})
        acc.create(acfg, True)
        self.accounts[user] = acc
        return acc

    def after(self, seconds: float, fn: Any) -> None:
        self.timers.append((time.monotonic() + seconds, fn))

    def _try(self, cid: str, fn: Any) -> None:
        """Run a PJSUA2 call operation; a refusal becomes an "error" event of call `cid`."""
        try:
            fn()
        except pj.Error as exc:
            emit(ev="error", id=cid, error=exc.reason)

    def command(self, cmd: dict[str, Any]) -> bool:
        op = cmd.get("op")
        if op == "register":
            self.account(cmd["user"], cmd["registrar"], cmd)
        elif op == "call":
            acc = self.account(cmd.get("from", "13800000000"))
            call = UaCall(self, acc, cmd["id"], int(cmd.get("tone", 0)))
            call.record_to = str(cmd.get("record", ""))
            self.calls[call.cid] = call
            self._try(call.cid, lambda: self._dial(call, cmd["uri"]))
        elif op == "dtmf":
            call = self.calls.get(cmd["id"])
            if call is not None and cmd.get("method") == "info":
                prm = pj.CallSendDtmfParam()
                prm.method = pj.PJSUA_DTMF_METHOD_SIP_INFO
                prm.digits = cmd["digits"]
                self._try(call.cid, lambda: call.sendDtmf(prm))
            elif call is not None:
                self._try(call.cid, lambda: call.dialDtmf(cmd["digits"]))
        elif op == "hangup":
            call = self.calls.get(cmd["id"])
            if call is not None:
                self._try(call.cid, lambda: call.hangup(pj.CallOpParam()))
        elif op == "quit":
            return False
        return True

    def handle(self, kind: str, obj: Any, a: int, b: int) -> None:
        if kind == "reg":
            emit(ev="registered", user=obj.user, code=a)
        elif kind == "incoming":
            beh = obj.agent or {}
            emit(ev="incoming", id=obj.cid, user=beh.get("user"))
            op = pj.CallOpParam()
            op.statusCode = 180
            if beh.get("reject"):  # e.g. 486 Busy Here
                op.statusCode = int(beh["reject"])
                obj.answer(op)
                return
            obj.answer(op)
            if beh.get("answer", True):
                self.after(float(beh.get("answer_after", 0.5)), lambda c=obj: self._answer(c))
        elif kind == "state":
            if a == pj.PJSIP_INV_STATE_CONFIRMED:
                at = obj.confirmed_at or time.monotonic()
                sent = obj.sent or obj.started
                emit(
                    ev="confirmed",
                    id=obj.cid,
                    setup_ms=round((at - obj.started) * 1000, 2),
                    wire_ms=round((at - sent) * 1000, 2),
                )
                talk = float((obj.agent or {}).get("talk", 0))
                if obj.agent is not None and talk > 0:
                    self.after(talk, lambda c=obj: self._hangup(c))
            elif a == pj.PJSIP_INV_STATE_DISCONNECTED:
                emit(ev="disconnected", id=obj.cid, code=b)
                obj.player = None
                obj.recorder = None
                obj.am = None
                if self.calls.pop(obj.cid, None) is not None:
                    self.dead.append(obj)
        elif kind == "media":
            try:
                ci = obj.getInfo()
                for i, mi in enumerate(ci.media):
                    if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                        obj.am = obj.getAudioMedia(i)
                        if obj.tone and obj.player is None:
                            p = pj.AudioMediaPlayer()
                            p.createPlayer(tone_file(obj.tone, self.folder), 0)
                            p.startTransmit(obj.am)
                            obj.player = p
                        if obj.record_to and obj.recorder is None:
                            r = pj.AudioMediaRecorder()
                            r.createRecorder(obj.record_to)
                            obj.am.startTransmit(r)
                            obj.recorder = r
                            emit(ev="recording", id=obj.cid, path=obj.record_to)
                        emit(ev="media", id=obj.cid)
            except pj.Error as exc:
                emit(ev="error", where="media", error=exc.reason)

    @staticmethod
    def _dial(call: UaCall, uri: str) -> None:
        call.started = time.monotonic()
        call.makeCall(uri, pj.CallOpParam(True))
        call.sent = time.monotonic()

    def _answer(self, call: UaCall) -> None:
        if call.cid in self.calls:
            op = pj.CallOpParam()
            op.statusCode = 200
            self._try(call.cid, lambda: call.answer(op))

    def _hangup(self, call: UaCall) -> None:
        if call.cid in self.calls:
            with contextlib.suppress(pj.Error):
                call.hangup(pj.CallOpParam())

    def _drain(self) -> None:
        while self.inbox:
            kind, obj, a, b = self.inbox.pop(0)
            try:
                self.handle(kind, obj, a, b)
            except Exception as exc:
                emit(ev="error", where=kind, error=str(exc))

    def _run_timers(self) -> None:
        now = time.monotonic()
        due = [t for t in self.timers if t[0] <= now]
        self.timers = [t for t in self.timers if t[0] > now]
        for _, fn in due:
            fn()

    def _reap(self) -> None:
        busy = {c.getId() for c in self.calls.values()}
        # references: the list, the loop variable, getrefcount's argument
        self.dead = [c for c in self.dead if sys.getrefcount(c) > 3 or c.getId() in busy]

    def run(self, commands: queue.Queue[dict[str, Any] | None]) -> None:
        running = True
        emit(ev="ready", sip_port=self.sip_port)
        while running:
            self.ep.libHandleEvents(10)
            self._drain()
            self._run_timers()
            if self.dead:
                self._reap()
            while not commands.empty():
                cmd = commands.get()
                if cmd is None or not self.command(cmd):
                    running = False
                    break
        self.ep.hangupAllCalls()
        end = time.monotonic() + 0.5
        while time.monotonic() < end and self.calls:
            self.ep.libHandleEvents(10)
            self._drain()
        self.timers.clear()
        self.inbox.clear()
        for c in self.calls.values():
            c.player = None
            c.recorder = None
        self.calls.clear()
        self.dead.clear()
        self.accounts.clear()
        gc.collect()
        self.ep.libDestroy(pj.PJSUA_DESTROY_NO_NETWORK)


def main() -> None:
    rtp = int(sys.argv[1]) if len(sys.argv) > 1 else 30000
    sip = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    commands: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def reader() -> None:
        for line in sys.stdin:
            line = line.strip()
            if line:
                commands.put(json.loads(line))
        commands.put(None)

    threading.Thread(target=reader, daemon=True).start()
    ua = Ua(rtp, sip)
    folder = ua.folder
    ua.run(commands)
    del ua
    shutil.rmtree(folder, ignore_errors=True)
    emit(ev="bye")
    # Leave without running the interpreter's teardown: it could still destroy a pj object after
    # libDestroy (PJSUA asserts and aborts), which made callers exit with SIGABRT.
    os._exit(0)


if __name__ == "__main__":
    main()
