"""Sealed content: the personal data of a message readable by its destination node only.

A transfer carries the citizen's phone, name and complaint; relays (provinces, the ministry) must
pass it on without being able to read it. The sender moves the message's sensitive fields
(`SEALED_FIELDS`) into a `SealedBox` for the destination's X25519 key (from the signed directory):

    ephemeral X25519 key ⨯ recipient key → HKDF-SHA256 → ChaCha20-Poly1305(nonce, plaintext, aad)

The plaintext is the same message type holding only the sealed fields; the associated data binds
the box to the message type, the recipient key and the clear routing fields (`_CLEAR`), so a box
cannot be moved into another message. The envelope signature covers the box as usual. Clear fields
(ids, nodes, order number, kind, sequence) are what relays check authority on.

Pure functions: keys in, messages out. `federation.trust` finds keys; the sender seals each attempt
afresh; the destination opens when it checks and when it applies the message.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google.protobuf.message import DecodeError, Message

from federation.v1 import federation_pb2 as pb

INFO = b"12328-federation-seal-v1"
NONCE_BYTES = 12

# payload type → fields that only the destination may read
SEALED_FIELDS: dict[str, tuple[str, ...]] = {
    pb.OrderTransfer.DESCRIPTOR.full_name: ("order", "history", "reason", "requested_by"),
    pb.OrderUpdate.DESCRIPTOR.full_name: ("actor", "note", "result", "history"),
    pb.SpotCheckOrder.DESCRIPTOR.full_name: ("order", "instructions"),
}
# payload type → clear fields the box is bound to (associated data)
_CLEAR: dict[str, tuple[str, ...]] = {
    pb.OrderTransfer.DESCRIPTOR.full_name: ("transfer_id", "from_node", "to_node", "order_number"),
    pb.OrderUpdate.DESCRIPTOR.full_name: (
        "transfer_id",
        "from_node",
        "to_node",
        "order_number",
        "kind",
        "sequence",
    ),
    pb.SpotCheckOrder.DESCRIPTOR.full_name: ("check_id", "issuer_node", "target_node"),
}


class SealError(Exception):
    """Sealed content that cannot be opened here (no box, another key, tampered, malformed)."""


def sealable(payload_type: str) -> bool:
    return payload_type in SEALED_FIELDS


def clear_fields(message: Message) -> list[str]:
    """Sealed fields that carry content in clear (must be none on the wire)."""
    return [f for f in SEALED_FIELDS[message.DESCRIPTOR.full_name] if _is_set(message, f)]


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_bytes(private: X25519PrivateKey) -> bytes:
    return _raw_public(private.public_key())


def _aad(message: Message, key_id: str) -> bytes:
    name = message.DESCRIPTOR.full_name
    parts = [name, key_id, *(str(getattr(message, f)) for f in _CLEAR[name])]
    return "\0".join(parts).encode()


def _key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=INFO).derive(shared)


def seal(message: Message, key_id: str, recipient_public: bytes) -> Message:
    """A copy of `message` whose sensitive fields are sealed to `recipient_public` (raw X25519)."""
    name = message.DESCRIPTOR.full_name
    inner = type(message)()
    outer = type(message)()
    outer.CopyFrom(message)
    for field in SEALED_FIELDS[name]:
        _copy_field(message, inner, field)
        outer.ClearField(field)
    outer.ClearField("sealed")
    ephemeral = X25519PrivateKey.generate()
    eph_public = public_bytes(ephemeral)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public))
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = ChaCha20Poly1305(_key(shared, eph_public, recipient_public)).encrypt(
        nonce, inner.SerializeToString(deterministic=True), _aad(outer, key_id)
    )
    outer.sealed.CopyFrom(
        pb.SealedBox(
            recipient_key_id=key_id, ephemeral_public_key=eph_public, nonce=nonce, ciphertext=ciphertext
        )
    )
    return outer


def open_sealed(message: Message, private: X25519PrivateKey) -> Message:
    """The message with its sealed fields restored (raises SealError). The clear copy of a sealed
    field must be empty: a sender cannot add readable content beside the box."""
    name = message.DESCRIPTOR.full_name
    if not message.HasField("sealed"):
        raise SealError("报文缺少加密内容")
    box = message.sealed
    if clear := clear_fields(message):
        raise SealError(f"加密报文的 {'、'.join(clear)} 不应有明文内容")
    recipient = public_bytes(private)
    if len(box.ephemeral_public_key) != 32 or len(box.nonce) != NONCE_BYTES:
        raise SealError("加密内容格式错误")
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(box.ephemeral_public_key))
        plain = ChaCha20Poly1305(_key(shared, box.ephemeral_public_key, recipient)).decrypt(
            box.nonce, box.ciphertext, _aad(_without_box(message), box.recipient_key_id)
        )
        inner = type(message).FromString(plain)
    except (InvalidTag, ValueError, DecodeError):
        raise SealError("加密内容无法解开（密钥不符或内容被篡改）") from None
    opened = _without_box(message)
    for field in SEALED_FIELDS[name]:
        _copy_field(inner, opened, field)
    return opened


def _without_box(message: Message) -> Message:
    copy = type(message)()
    copy.CopyFrom(message)
    copy.ClearField("sealed")
    return copy


def _is_set(message: Message, field: str) -> bool:
    fd = message.DESCRIPTOR.fields_by_name[field]
    if fd.is_repeated:
        return len(getattr(message, field)) > 0
    if fd.message_type is not None:
        return message.HasField(field)
    return bool(getattr(message, field))


def _copy_field(source: Message, target: Message, field: str) -> None:
    fd = source.DESCRIPTOR.fields_by_name[field]
    value = getattr(source, field)
    if fd.is_repeated:
        getattr(target, field).extend(value)
    elif fd.message_type is not None:
        if source.HasField(field):
            getattr(target, field).CopyFrom(value)
    else:
        setattr(target, field, value)
