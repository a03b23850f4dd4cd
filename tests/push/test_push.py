"""The push channel: publishing and topics on both databases, and the stream endpoint served by
the node's ASGI app under a real server (uvicorn in a thread) over its own SQLite file."""

from __future__ import annotations

import datetime as dt
import http.client
import time
from collections.abc import Iterator
from typing import Any

import pytest

from node import clock, pii
from node import db as node_db
from node import settings as node_settings
from node.auth import service as auth
from node.push import service as push
from node.push.models import PushEvent
from tests import asgi_server, factories


def test_publish_topics_and_purge(db: str) -> None:
    agent = auth.actor_for(factories.make_user("agent"))
    leader = auth.actor_for(factories.make_user("shift_leader"))
    assert f"user:{agent.user_id}" in push.topics_for(agent) and "role:agent" in push.topics_for(agent)
    assert "perm:monitor.view" in push.topics_for(leader) and "perm:monitor.view" not in push.topics_for(
        agent
    )
    start = push.last_id()
    now = clock.now()
    with clock.frozen(now - dt.timedelta(hours=2)):
        push.publish("role:agent", "old", {})
    push.publish([f"user:{agent.user_id}", "perm:monitor.view", "perm:monitor.view"], "phone", {"x": 1})
    events = push.after(start)
    assert [(e.topic, e.kind) for e in events] == [
        ("role:agent", "old"),
        (f"user:{agent.user_id}", "phone"),
        ("perm:monitor.view", "phone"),
    ]
    assert events[1].data == {"x": 1} and push.after(events[-1].id) == []
    push.publish([], "nothing")  # no topic, no row
    assert push.purge(now) == 1
    assert [e.kind for e in push.after(start)] == ["phone", "phone"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from node.app import create_app
    from node.migrate import upgrade

    home = tmp_path_factory.mktemp("push")
    settings = node_settings.for_tests(home, f"sqlite:///{home / 'node.db'}")
    node_settings.configure(settings)
    pii.configure(settings.data_key)
    database = node_db.bind(settings.database_url)
    with node_db.connection():
        upgrade(database)
        agent = factories.make_user("agent")
        other = factories.make_user("agent")
        tokens = {"agent": auth.issue_token(agent, "t"), "other": auth.issue_token(other, "t")}
    with asgi_server.serve(create_app(settings)) as (port, asgi):
        yield {"port": port, "asgi": asgi, "tokens": tokens, "agent": agent, "db": database}
    database.close()


class Stream:
    """One open /push/stream read line by line."""

    def __init__(self, port: int, token: str = "", last_event_id: int | None = None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Accept": "text/event-stream"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.conn.request("GET", "/push/stream", headers=headers)
        self.resp = self.conn.getresponse()

    def event(self) -> dict[str, str]:
        """The next event (id, event, data), skipping keep-alives and the retry line."""
        ev: dict[str, str] = {}
        while True:
            line = self.resp.readline().decode()
            if line == "":
                return ev
            line = line.rstrip("\n")
            if not line:
                if "event" in ev:
                    return ev
                ev = {}
                continue
            key, _, value = line.partition(": ")
            if key in ("id", "event", "data"):
                ev[key] = value

    def close(self) -> None:
        self.resp.close()
        self.conn.close()


def _publish(database: Any, topic: str, kind: str, data: dict[str, Any]) -> int:
    with node_db.connection():
        push.publish(topic, kind, data)
        return push.last_id()


def test_stream_needs_a_session_or_token(server: dict[str, Any]) -> None:
    s = Stream(server["port"])
    assert s.resp.status == 401 and "请先登录" in s.resp.read().decode()
    s.close()
    conn = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=10)
    conn.request("POST", "/push/stream", body=b"")
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 405


def test_an_open_stream_does_not_keep_an_idle_session_alive(server: dict[str, Any]) -> None:
    import json

    from node.auth.models import UserSession

    conn = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=10)
    body = json.dumps({"username": server["agent"].username, "password": factories.PASSWORD})
    conn.request("POST", "/api/v1/auth/login", body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 200
    cookies = [c.split(";", 1)[0] for c in resp.headers.get_all("Set-Cookie") or []]
    cookie = "; ".join(c for c in cookies if c.startswith("hotline_session="))
    idle_since = clock.now() - dt.timedelta(minutes=5)
    with node_db.connection():
        session = UserSession.select().order_by(UserSession.id.desc()).first()
        UserSession.update(last_seen_at=idle_since).where(UserSession.id == session.id).execute()

    def stream_status() -> int:
        c = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=10)
        c.request("GET", "/push/stream", headers={"Cookie": cookie})
        r = c.getresponse()
        status = r.status
        r.close()
        c.close()
        return status

    assert stream_status() == 200
    with node_db.connection():
        assert UserSession.get_by_id(session.id).last_seen_at == idle_since  # not counted as activity
        UserSession.update(last_seen_at=clock.now() - dt.timedelta(minutes=31)).where(
            UserSession.id == session.id
        ).execute()
    assert stream_status() == 401  # the idle timeout ends the stream's right too


def test_stream_delivers_only_the_users_topics_and_replays_after_reconnect(server: dict[str, Any]) -> None:
    agent = server["agent"]
    mine = Stream(server["port"], server["tokens"]["agent"])
    theirs = Stream(server["port"], server["tokens"]["other"])
    assert mine.resp.status == 200 and mine.resp.getheader("Content-Type").startswith("text/event-stream")
    time.sleep(0.5)  # both subscribed
    _publish(server["db"], f"user:{agent.id}", "phone", {"state": "ready"})
    _publish(server["db"], "perm:monitor.view", "floor", {"what": "agent"})  # agents lack monitor.view
    last = _publish(server["db"], "role:agent", "notice", {"n": 1})
    first = mine.event()
    assert first["event"] == "phone" and '"state":"ready"' in first["data"]
    assert mine.event()["event"] == "notice"
    got = theirs.event()
    assert (got["event"], got["id"]) == ("notice", str(last))  # not the other user's phone event
    mine.close()
    # a page that reconnects with Last-Event-ID gets what it missed
    missed = _publish(server["db"], f"user:{agent.id}", "screen_pop", {"call": "abc"})
    again = Stream(server["port"], server["tokens"]["agent"], last_event_id=last)
    ev = again.event()
    assert (ev["event"], ev["id"]) == ("screen_pop", str(missed))
    # stopping the worker ends every open stream at once
    server["asgi"].stop_streams()
    t0 = time.monotonic()
    assert again.event() == {} and theirs.event() == {}
    assert time.monotonic() - t0 < 5
    again.close()
    theirs.close()
    with node_db.connection():
        assert PushEvent.select().count() >= 4
    refused = Stream(server["port"], server["tokens"]["agent"])
    assert refused.resp.status == 503  # a stopping worker takes no new streams
    refused.resp.read()
    refused.close()


def test_event_frame_and_path() -> None:
    from node.push.asgi import STREAM_PATH
    from node.push.stream import _frame

    assert STREAM_PATH == "/push/stream"
    frame = _frame(push.Event(7, "user:1", "phone", {"状态": "就绪"})).decode()
    assert frame == 'id: 7\nevent: phone\ndata: {"状态":"就绪"}\n\n'
