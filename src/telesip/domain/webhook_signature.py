"""Webhook signatures per the Standard Webhooks specification (standardwebhooks.com), so that
receivers can use its ready verifiers:

    webhook-id: <the delivery id; the same on every retry: deduplicate by it>
    webhook-timestamp: <unix seconds of this attempt>
    webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>

The key is the webhook's secret without its ``whsec_`` prefix, base64-decoded. Secrets made
before this scheme were URL-safe base64; they decode the same way with the URL-safe alphabet
(``key_of``), and re-registering the webhook gives a standard one. Receivers compare with a
constant-time comparison and refuse timestamps outside a tolerance (``verify`` does both).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
EVENT_HEADER = "X-Telesip-Event"
PREFIX = "whsec_"


def new_secret() -> str:
    """``whsec_`` and 32 random bytes in standard base64, as the specification has it."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def key_of(secret: str) -> bytes:
    body = secret.removeprefix(PREFIX)
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(key_of(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, msg_id, timestamp, body),
    }


def verify(
    secret: str, body: bytes, received: dict[str, str], now: int, tolerance: int = 300
) -> bool:
    """True when the ``webhook-*`` headers sign ``body`` with ``secret`` within ``tolerance``
    seconds (any of the space-separated ``v1,`` signatures may match)."""
    lower = {k.lower(): v for k, v in received.items()}
    try:
        msg_id = lower[ID_HEADER]
        timestamp = int(lower[TIMESTAMP_HEADER])
        given = lower[SIGNATURE_HEADER].split()
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(g, expected) for g in given)
