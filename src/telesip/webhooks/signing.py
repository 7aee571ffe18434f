"""Webhook signatures: ``X-Telesip-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``.

The MAC covers ``"<t>." + body`` with the webhook's secret, so a receiver checks both the body
and its freshness (replays older than the tolerance are refused). Receivers should compare with
:func:`hmac.compare_digest`, as :func:`verify` does.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Telesip-Signature"
DELIVERY_HEADER = "X-Telesip-Delivery"
EVENT_HEADER = "X-Telesip-Event"


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(secret: str, body: bytes, header: str, now: int, tolerance: int = 300) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(given, _mac(secret, timestamp, body))
