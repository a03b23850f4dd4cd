"""A small WeChat Official Account API for tests: a real HTTP server process on 127.0.0.1 that
answers the two calls the node makes, as the platform documents them.

    GET  /cgi-bin/token?grant_type=client_credential&appid=…&secret=…
         → {"access_token": …, "expires_in": 7200} (wrong secret: errcode 40125)
    POST /cgi-bin/message/template/send?access_token=…   (JSON: touser, template_id, data, url,
         client_msg_id) → {"errcode": 0, "errmsg": "ok", "msgid": …}; a token that is not the
         latest → 40001; a missing field → 47001; one message per touser + client_msg_id (a repeat
         answers the first msgid and is not delivered again).

    python -m tests.wxapi DIR    # writes DIR/port; appends tokens issued to DIR/tokens.jsonl,
                                 # every request to DIR/requests.jsonl, delivered messages to
                                 # DIR/sent.jsonl. Control files the tests write:
                                 #   DIR/expire           next send: the current token is expired (42001)
                                 #   DIR/fail.json        {"errcode": n, "errmsg": …, "count": k}: the next
                                 #                        k sends are answered with that error
Env WXAPI_DELAY_S slows every send (a test can kill a sender mid-batch).
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

APPID, SECRET = "wx12328test", "s3cret"
DELAY_S = float(os.environ.get("WXAPI_DELAY_S", "0"))
_lock = threading.Lock()
_tokens = itertools.count(1)
_msgids = itertools.count(1000001)
_state: dict[str, Any] = {"token": None, "seen": {}}


class Handler(BaseHTTPRequestHandler):
    home: Path

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _answer(self, body: dict[str, Any]) -> None:
        raw = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _append(self, name: str, row: dict[str, Any]) -> None:
        with (self.home / name).open("a") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")

    def do_GET(self) -> None:
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path != "/cgi-bin/token":
            self.send_error(404)
            return
        with _lock:
            self._append("requests.jsonl", {"path": url.path, "query": q})
            if q.get("grant_type") != "client_credential" or q.get("appid") != APPID:
                self._answer({"errcode": 40013, "errmsg": "invalid appid"})
                return
            if q.get("secret") != SECRET:
                self._answer({"errcode": 40125, "errmsg": "invalid appsecret"})
                return
            token = f"TOKEN{next(_tokens):04d}"
            _state["token"] = token
            self._append("tokens.jsonl", {"token": token})
        self._answer({"access_token": token, "expires_in": 7200})

    def do_POST(self) -> None:
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if url.path != "/cgi-bin/message/template/send":
            self.send_error(404)
            return
        time.sleep(DELAY_S)
        with _lock:
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError:
                body = None
            self._append("requests.jsonl", {"path": url.path, "query": q, "body": body})
            expire = self.home / "expire"
            if expire.exists():
                expire.unlink()
                _state["token"] = None  # the token ran out
            if not q.get("access_token") or q.get("access_token") != _state["token"]:
                code = 42001 if _state["token"] is None else 40001
                self._answer({"errcode": code, "errmsg": "access_token expired or invalid"})
                return
            fail = self.home / "fail.json"
            if fail.exists():
                spec = json.loads(fail.read_text())
                if spec.get("count", 0) > 0:
                    spec["count"] -= 1
                    fail.write_text(json.dumps(spec))
                    self._answer({"errcode": spec["errcode"], "errmsg": spec.get("errmsg", "error")})
                    return
            if not isinstance(body, dict) or not all(k in body for k in ("touser", "template_id", "data")):
                self._answer({"errcode": 47001, "errmsg": "data format error"})
                return
            key = f"{body['touser']}\0{body.get('client_msg_id', '')}"
            if body.get("client_msg_id") and key in _state["seen"]:
                self._append(
                    "duplicates.jsonl", {"touser": body["touser"], "client_msg_id": body["client_msg_id"]}
                )
                self._answer({"errcode": 0, "errmsg": "ok", "msgid": _state["seen"][key]})
                return
            msgid = next(_msgids)
            _state["seen"][key] = msgid
            self._append("sent.jsonl", {**body, "msgid": msgid})
        self._answer({"errcode": 0, "errmsg": "ok", "msgid": msgid})


def main(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    Handler.home = home
    with ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        server.daemon_threads = True
        (home / "port.tmp").write_text(str(server.server_address[1]))
        (home / "port.tmp").rename(home / "port")
        server.serve_forever()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
