"""A small SMSC for tests: a real SMPP 3.4 server process on 127.0.0.1 built on smpplib's PDU
classes (binds, submit_sm with a dedupe on user_message_reference + destination + text,
enquire_link, unbind, and mobile-originated messages delivered as deliver_sm after a bind).

    python -m tests.smsc DIR      # writes DIR/port; appends accepted messages to DIR/submits.jsonl;
                                  # delivers DIR/mo/*.json ({"from": …, "text": …}) to the next bind
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import socketserver
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

from smpplib import consts, smpp

PASSWORD = "secret"
DELAY_S = float(os.environ.get("SMSC_DELAY_S", "0"))
_lock = threading.Lock()
_ids = itertools.count(1)


class _Seq:
    def __init__(self) -> None:
        self._n = itertools.count(1)
        self.sequence = 0

    def next_sequence(self) -> int:
        self.sequence = next(self._n)
        return self.sequence


def _read(sock: socket.socket) -> bytes | None:
    head = b""
    while len(head) < 4:
        chunk = sock.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    (length,) = struct.unpack(">L", head)
    body = b""
    while len(body) < length - 4:
        chunk = sock.recv(length - 4 - len(body))
        if not chunk:
            return None
        body += chunk
    return head + body


class Handler(socketserver.BaseRequestHandler):
    home: Path

    def handle(self) -> None:
        sock: socket.socket = self.request
        seq = _Seq()
        while True:
            raw = _read(sock)
            if raw is None:
                return
            pdu: Any = smpp.parse_pdu(raw, client=seq, allow_unknown_opt_params=True)
            if pdu.command in ("bind_transceiver", "bind_transmitter", "bind_receiver"):
                ok = (pdu.password or b"").decode() == PASSWORD
                resp = smpp.make_pdu(
                    pdu.command + "_resp",
                    client=seq,
                    sequence=pdu.sequence,
                    status=consts.SMPP_ESME_ROK if ok else consts.SMPP_ESME_RINVPASWD,
                    system_id="SMSC",
                )
                sock.sendall(resp.generate())
                if not ok:
                    return
                if pdu.command != "bind_transmitter":
                    self._deliver_mo(sock, seq)
            elif pdu.command == "submit_sm":
                time.sleep(DELAY_S)  # a slow SMSC, so that a test can kill a sender mid-batch
                message_id = self._accept(pdu)
                resp = smpp.make_pdu(
                    "submit_sm_resp", client=seq, sequence=pdu.sequence, message_id=message_id
                )
                sock.sendall(resp.generate())
            elif pdu.command == "enquire_link":
                sock.sendall(smpp.make_pdu("enquire_link_resp", client=seq, sequence=pdu.sequence).generate())
            elif pdu.command == "unbind":
                sock.sendall(smpp.make_pdu("unbind_resp", client=seq, sequence=pdu.sequence).generate())
                return
            # deliver_sm_resp and anything else: nothing to answer

    def _accept(self, pdu: Any) -> str:
        payload = getattr(pdu, "message_payload", None) or pdu.short_message or b""
        text = (
            payload.decode("utf-16-be")
            if pdu.data_coding == consts.SMPP_ENCODING_ISO10646
            else payload.decode()
        )
        to = (
            pdu.destination_addr.decode()
            if isinstance(pdu.destination_addr, bytes)
            else str(pdu.destination_addr)
        )
        ref = getattr(pdu, "user_message_reference", None)
        with _lock:
            log = self.home / "submits.jsonl"
            seen = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
            for s in seen:
                if s["ref"] == ref and s["to"] == to and s["text"] == text and ref is not None:
                    with (self.home / "duplicates.jsonl").open("a") as f:
                        f.write(json.dumps({"ref": ref, "to": to}) + "\n")
                    return str(s["message_id"])
            message_id = f"M{next(_ids):08d}"
            with log.open("a") as f:
                f.write(
                    json.dumps(
                        {"ref": ref, "to": to, "text": text, "message_id": message_id}, ensure_ascii=False
                    )
                    + "\n"
                )
        return message_id

    def _deliver_mo(self, sock: socket.socket, seq: _Seq) -> None:
        for path in sorted((self.home / "mo").glob("*.json")):
            mo = json.loads(path.read_text())
            pdu = smpp.make_pdu(
                "deliver_sm",
                client=seq,
                source_addr=mo["from"],
                destination_addr="12328",
                short_message=b"",
                message_payload=mo["text"].encode("utf-16-be"),
                data_coding=consts.SMPP_ENCODING_ISO10646,
                receipted_message_id=path.stem,
            )
            sock.sendall(pdu.generate())
            raw = _read(sock)  # deliver_sm_resp
            if raw is None:
                return
            path.unlink()


def main(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "mo").mkdir(parents=True, exist_ok=True)
    Handler.home = home
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler) as server:
        server.daemon_threads = True
        (home / "port.tmp").write_text(str(server.server_address[1]))
        (home / "port.tmp").rename(home / "port")
        server.serve_forever()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
