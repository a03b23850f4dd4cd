"""SMS over SMPP 3.4 (smpplib): one transceiver session per worker run sends the due messages
and takes the mobile-originated ones (deliver_sm) the SMSC kept for the node.

Text goes UCS-2 in the `message_payload` TLV (no concatenation headers to split or reassemble);
the outbox id travels as `user_message_reference`, the same on every retry of a message.
`[sms]` in node.toml: host, port, system_id, password, source_addr (the 12328 number).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import smpplib.client
import smpplib.consts
import smpplib.exceptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmsConfig:
    host: str
    port: int
    system_id: str
    password: str
    source_addr: str = "12328"
    timeout_s: float = 5.0
    lease_s: float = 120.0  # a message claimed by a sender that died is sent again after this

    @classmethod
    def from_section(cls, section: dict[str, Any]) -> SmsConfig | None:
        if not section.get("host"):
            return None
        return cls(
            host=str(section["host"]),
            port=int(section.get("port", 2775)),
            system_id=str(section.get("system_id", "")),
            password=str(section.get("password", "")),
            source_addr=str(section.get("source_addr", "12328")),
            timeout_s=float(section.get("timeout_s", 5.0)),
            lease_s=float(section.get("lease_s", 120.0)),
        )


@dataclass(frozen=True)
class Inbound:
    source: str
    text: str
    ref: str


class SmppSession:
    """A bound transceiver: `submit()` one message and wait for its submit_sm_resp; `drain()` the
    deliver_sm the SMSC sends (each acknowledged by smpplib after the handler returns)."""

    def __init__(self, cfg: SmsConfig):
        self.cfg = cfg
        self.client = smpplib.client.Client(
            cfg.host, cfg.port, timeout=cfg.timeout_s, allow_unknown_opt_params=True
        )
        self._resp: Any = None
        self.inbound: list[Inbound] = []
        self.client.set_message_sent_handler(self._sent)
        self.client.set_message_received_handler(self._received)

    def __enter__(self) -> SmppSession:
        self.client.connect()
        try:
            self.client.bind_transceiver(system_id=self.cfg.system_id, password=self.cfg.password)
        except BaseException:
            self.client.disconnect()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):  # the link may already be gone
            self.client.unbind()
        self.client.disconnect()

    def _sent(self, pdu: Any, **_: Any) -> None:
        self._resp = pdu

    def _received(self, pdu: Any, **_: Any) -> int:
        raw = getattr(pdu, "message_payload", None) or pdu.short_message or b""
        coding = int(getattr(pdu, "data_coding", 0) or 0)
        text = (
            raw.decode("utf-16-be")
            if coding == smpplib.consts.SMPP_ENCODING_ISO10646
            else raw.decode("latin-1")
        )
        source = pdu.source_addr.decode() if isinstance(pdu.source_addr, bytes) else str(pdu.source_addr)
        rid = getattr(pdu, "receipted_message_id", None) or b""
        rid = rid.decode() if isinstance(rid, bytes) else str(rid)
        ref = rid or f"mo:{source}:{pdu.sequence}"
        self.inbound.append(Inbound(source, text.strip(), ref))
        return int(smpplib.consts.SMPP_ESME_ROK)

    def submit(self, destination: str, text: str, reference: int) -> str:
        """Send and return the SMSC's message_id (raises on an error status or a timeout)."""
        self._resp = None
        self.client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_NWSPEC,
            source_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
            source_addr=self.cfg.source_addr,
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
            destination_addr=destination,
            short_message=b"",
            message_payload=text.encode("utf-16-be"),
            data_coding=smpplib.consts.SMPP_ENCODING_ISO10646,
            esm_class=smpplib.consts.SMPP_MSGTYPE_DEFAULT,
            registered_delivery=False,
            user_message_reference=reference % 65536,
        )
        while self._resp is None:
            self.client.read_once(auto_send_enquire_link=False)
        mid = self._resp.message_id
        return mid.decode() if isinstance(mid, bytes) else str(mid)

    def drain(self, wait_s: float = 0.5) -> list[Inbound]:
        """Read what the SMSC delivers until it is quiet for `wait_s`."""
        self.client._socket.settimeout(wait_s)  # smpplib keeps the socket there
        try:
            while True:
                self.client.read_once(auto_send_enquire_link=False)
        except TimeoutError:
            pass
        finally:
            self.client._socket.settimeout(self.cfg.timeout_s)
        got, self.inbound = self.inbound, []
        return got


SessionFactory = Callable[[], Any]
ERRORS = (OSError, smpplib.exceptions.PDUError, smpplib.exceptions.ConnectionError, TimeoutError)
