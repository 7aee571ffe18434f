"""Callback data of every button: opaque ids and a verb, never authority.

Every press is re-checked on the server by the service it calls (who pressed, their role now,
the offer's state), so a forged, replayed or stale press changes nothing. Each fits Telegram's
64-byte limit by construction (short prefixes, integer ids).
"""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class AccountCb(CallbackData, prefix="a"):
    """A button of /softphone or an account card: ``act`` on account ``id``."""

    act: str
    id: int


class RewriteCb(CallbackData, prefix="rw"):
    """Number-rewrite rules of account ``id``: ``list``, ``add``, or ``del`` rule number ``i``
    (``h``: a short digest of that rule, so a press on a list that changed since removes
    nothing)."""

    act: str
    id: int
    i: int = 0
    h: str = ""


class NewCb(CallbackData, prefix="n"):
    """A button of the New-account wizard (``transport``, ``skip``, ``cancel``)."""

    act: str
    value: str = ""


class OfferCb(CallbackData, prefix="o"):
    """A button of the special message in a chat (inline mode).

    ``rcv``: Receive (the offer is found by the message's inline_message_id); ``sb`` / ``sbok``
    / ``sbno``: Send back, confirmed or not, of account ``id``.
    """

    act: str
    id: int = 0


class LinkCb(CallbackData, prefix="l"):
    """/links buttons: ``new`` (pick an account), ``make`` for account ``id``, ``revoke`` link."""

    act: str
    id: int = 0


class DraftCb(CallbackData, prefix="r"):
    """Receive on a just-sent special message: a signed draft (see ``telesip.bot.drafts``)."""

    token: str


class WorkerCb(CallbackData, prefix="w"):
    """/workers buttons: ``new``, or ``revoke`` the caller's worker ``id``."""

    act: str
    id: int = 0


class CallCb(CallbackData, prefix="c"):
    """Calls: ``line`` dials the number kept in the conversation through line ``id``; ``key``
    sends keypad key ``key`` in call ``id``; ``hold`` / ``resume`` put call ``id`` on hold and
    back; ``hang`` hangs call ``id`` up."""

    act: str
    id: int
    key: str = ""


class ImportCb(CallbackData, prefix="i"):
    """The preview of a file sent to import: ``go`` (Import) or ``no`` (Cancel) the chat's
    pending file (the chat and the presser decide which; nothing else is carried)."""

    act: str


class BulkCb(CallbackData, prefix="b"):
    """/bulk: ``ask`` for ``op`` (links, disable, enable, unused, delete), then ``go`` with the
    count ``n`` and digest ``h`` of the accounts the question named (``services.bulk.digest``):
    a press after they changed asks again instead of acting on others; ``no`` cancels."""

    act: str
    op: str = ""
    n: int = 0
    h: str = ""
