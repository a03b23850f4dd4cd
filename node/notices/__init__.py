"""站内消息 (staff inbox): `notify(...)` tells users, roles or a unit's staff of something that needs
them (urges, returns, extension decisions, callbacks due, knowledge reviews …), with read receipts,
a badge on every screen and live updates over the push channel (node/push)."""
