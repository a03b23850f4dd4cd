"""Sign-in throttling: guessers are stopped without locking out the owner or a whole address,
and an unknown user name costs one password check like a real one."""

from __future__ import annotations

from typing import Any

import pytest

from node.audit.models import AuditEntry
from node.auth import service as auth
from node.errors import AuthenticationRequired, RateLimited
from tests import factories


def attempt(client, username: str, password: str, address: str) -> Any:
    return client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def sign_in_and_out(client, username: str, address: str) -> None:
    resp = attempt(client, username, factories.PASSWORD, address)
    assert resp.status_code == 200
    csrf = resp.get_json()["csrf_token"]
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200


def test_guessing_from_many_addresses_does_not_lock_out_the_owner(app, client, db):
    owner = factories.make_user("agent")
    sign_in_and_out(client, owner.username, "10.1.1.1")  # leaves the device cookie
    attacker = app.test_client()
    codes = [
        attempt(attacker, owner.username, f"guess-{i}", f"198.51.100.{i % 4}").status_code for i in range(14)
    ]
    assert codes.count(401) == auth.MAX_USER_FAILURES and set(codes[auth.MAX_USER_FAILURES :]) == {429}
    # the attacker is stopped even with the right password; the owner's browser still gets in
    assert attempt(attacker, owner.username, factories.PASSWORD, "198.51.100.7").status_code == 429
    assert attempt(client, owner.username, factories.PASSWORD, "10.1.1.1").status_code == 200
    events = [e.event for e in AuditEntry.select().where(AuditEntry.target == owner.username)]
    assert events.count("auth.login_failed") == auth.MAX_USER_FAILURES and events.count("auth.login") == 2


def test_the_owner_device_itself_is_throttled_after_five_failures(app, client, db):
    owner = factories.make_user("agent")
    sign_in_and_out(client, owner.username, "10.1.1.1")
    codes = [attempt(client, owner.username, "wrong-one", "10.1.1.1").status_code for _ in range(6)]
    assert codes == [401] * auth.MAX_CLIENT_FAILURES + [429]


def test_one_address_does_not_lock_out_everyone_behind_it(app, client, db):
    colleague = factories.make_user("agent")
    sign_in_and_out(client, colleague.username, "192.0.2.1")
    noisy = app.test_client()
    for i in range(auth.MAX_ADDRESS_FAILURES):
        assert attempt(noisy, f"nobody{i}", "whatever-1", "192.0.2.1").status_code == 401
    assert attempt(noisy, "nobody-else", "whatever-1", "192.0.2.1").status_code == 429
    newcomer = factories.make_user("agent")
    assert attempt(noisy, newcomer.username, factories.PASSWORD, "192.0.2.1").status_code == 429
    assert attempt(client, colleague.username, factories.PASSWORD, "192.0.2.1").status_code == 200


def test_forged_device_cookie_is_ignored(app, client, db):
    owner = factories.make_user("agent")
    stranger = factories.make_user("agent")
    sign_in_and_out(client, stranger.username, "10.2.2.2")
    # a device cookie issued to another user name does not exempt guesses at the owner
    for i in range(auth.MAX_USER_FAILURES):
        assert attempt(client, owner.username, f"guess-{i}", f"10.3.3.{i % 4}").status_code in (401, 429)
    client.set_cookie("hotline_device", "forged.value.sig")
    assert attempt(client, owner.username, factories.PASSWORD, "10.3.3.9").status_code == 429


def test_unknown_user_costs_one_password_check_with_a_real_kind_of_hash(db, monkeypatch):
    checked: list[str] = []
    real = auth.check_password_hash

    def spy(pwhash: str, password: str) -> bool:
        checked.append(pwhash)
        return real(pwhash, password)

    monkeypatch.setattr(auth, "check_password_hash", spy)
    with pytest.raises(AuthenticationRequired):
        auth.authenticate("no-such-user", "secret-123", "10.0.0.1")
    inactive = factories.make_user("agent")
    auth.set_active(factories.actor("admin"), inactive.id, False)
    with pytest.raises(AuthenticationRequired):
        auth.authenticate(inactive.username, factories.PASSWORD, "10.0.0.1")
    assert len(checked) == 2
    method = auth.hash_password("x").split("$", 1)[0]
    assert checked[0].split("$", 1)[0] == method, "the dummy hash is made like a real one"


def test_throttled_attempts_check_no_password(db, monkeypatch):
    user = factories.make_user("agent")
    for _ in range(auth.MAX_CLIENT_FAILURES):
        with pytest.raises(AuthenticationRequired):
            auth.authenticate(user.username, "wrong-pass", "10.9.9.9")
    monkeypatch.setattr(
        auth, "check_password_hash", lambda *a: pytest.fail("password checked while throttled")
    )
    with pytest.raises(RateLimited):
        auth.authenticate(user.username, factories.PASSWORD, "10.9.9.9")
