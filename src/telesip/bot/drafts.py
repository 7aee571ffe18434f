"""Signed offer drafts: what the Receive button of a freshly sent special message carries.

The offer itself is created when Telegram reports the chosen inline result (inline feedback).
Should that report be late or off, the first Receive press creates it from the draft instead:
account, method, sender and the time the bot answered the inline query, signed with the
service key, so a client can neither forge nor alter one. A draft is refused once its lifetime
has passed or when the account has an offer made after it (the newest send wins, R3): the
domain's ``transfers.draft_refusal``, which ``offers.receive_on_message`` applies.
"""

from __future__ import annotations

import base64
import hmac
import struct
from datetime import UTC, datetime

from telesip.domain import errors
from telesip.domain.model import Method
from telesip.domain.transfers import Draft
from telesip.services.dependencies import Dependencies

__all__ = ["Draft", "make", "read"]

_LAYOUT = struct.Struct(">qqqB")  # account id, sender id, issued (unix ms), method
_METHODS = (Method.ASSIGN, Method.UNLINK)
_MAC = 8


def make(deps: Dependencies, draft: Draft) -> str:
    """A token of 44 URL-safe characters (fits the 64-byte callback data with its prefix)."""
    body = _LAYOUT.pack(
        draft.account_id,
        draft.sender_id,
        int(draft.issued_at.timestamp() * 1000),
        _METHODS.index(draft.method),
    )
    mac = deps.cipher.mac("offer-draft", body.hex())[:_MAC]
    return base64.urlsafe_b64encode(body + mac).decode().rstrip("=")


def read(deps: Dependencies, token: str) -> Draft:
    """The draft in ``token``; OfferNotFound when it is not one this service signed."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        raise errors.OfferNotFound() from None
    body, mac = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
    if len(body) != _LAYOUT.size or not hmac.compare_digest(
        mac, deps.cipher.mac("offer-draft", body.hex())[:_MAC]
    ):
        raise errors.OfferNotFound()
    account_id, sender_id, issued, method = _LAYOUT.unpack(body)
    if method >= len(_METHODS):
        raise errors.OfferNotFound()
    return Draft(
        account_id, sender_id, datetime.fromtimestamp(issued / 1000, UTC), _METHODS[method]
    )
