"""Users, browser sessions, API tokens and sign-in attempts (for throttling)."""

from __future__ import annotations

import peewee as pw

from node.catalog.models import Unit
from node.db import BaseModel


class User(BaseModel):
    """A person working on this node (agent, dispatcher, unit staff …). Roles are comma-separated."""

    username = pw.CharField(unique=True, max_length=40)
    display_name = pw.CharField(max_length=40)
    password_hash = pw.CharField(max_length=200)
    roles = pw.CharField(max_length=200)
    unit = pw.ForeignKeyField(Unit, null=True, backref="staff", on_delete="RESTRICT")
    seat = pw.CharField(max_length=20, default="")
    phone = pw.CharField(max_length=40, default="")
    active = pw.BooleanField(default=True)
    failed_logins = pw.IntegerField(default=0)
    locked_until = pw.DateTimeField(null=True)
    last_login_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField()

    @property
    def role_list(self) -> list[str]:
        return [r for r in self.roles.split(",") if r]


class ApiToken(BaseModel):
    """Bearer token for machines and scripts; only the SHA-256 of the secret is stored."""

    user = pw.ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    name = pw.CharField(max_length=60)
    token_hash = pw.CharField(unique=True, max_length=64)
    prefix = pw.CharField(max_length=12)
    created_at = pw.DateTimeField()
    expires_at = pw.DateTimeField(null=True)
    last_used_at = pw.DateTimeField(null=True)
    revoked = pw.BooleanField(default=False)


class UserSession(BaseModel):
    """A signed-in browser. The cookie carries only the secret whose SHA-256 is stored here, so the
    server can end a session (logout, idle or absolute timeout, force sign-out) and a saved cookie
    is worthless afterwards."""

    key_hash = pw.CharField(unique=True, max_length=64)
    user = pw.ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    created_at = pw.DateTimeField()
    last_seen_at = pw.DateTimeField()
    expires_at = pw.DateTimeField()
    ended_at = pw.DateTimeField(null=True, index=True)
    end_reason = pw.CharField(max_length=20, default="")
    address = pw.CharField(max_length=64, default="")
    user_agent = pw.CharField(max_length=200, default="")


class LoginAttempt(BaseModel):
    """Sign-in attempts, for throttling. `client` is the signed device cookie the owner got at an
    earlier successful sign-in (`d:…`, `trusted`) or else the address (`a:…`). An attempt is stored
    as failed before the password is checked and turned into a success afterwards."""

    username = pw.CharField(max_length=40, index=True)
    address = pw.CharField(max_length=64, index=True)
    client = pw.CharField(max_length=80, default="", index=True)
    trusted = pw.BooleanField(default=False)
    at = pw.DateTimeField(index=True)
    success = pw.BooleanField()


MODELS = [User, UserSession, ApiToken, LoginAttempt]
