"""The Telegram side of calls (not the bot): caller accounts, their call RPCs, and the media
of a call.

Modules: ``adapter`` (the typed interface), ``telethon_adapter`` (it, on Telethon), ``codec``
(its values on our wires), ``p2p`` (ntgcalls media), ``media_host`` (the child process that
runs it), ``leg`` (one outgoing call), ``sessions`` (caller-account logins; the command is
``telesip.cli.telegram``), ``pool`` and ``runtime`` (a worker's caller accounts). The fake
Telegram the tests and the calls benchmark use is ``tests/fakes/telegram_calls.py``.
Only the light names are re-exported here; ``leg``, ``p2p`` and ``media_host`` load ntgcalls
and numpy, ``telethon_adapter`` loads Telethon, so import them from their modules.
"""

from telesip.calls.telegram.adapter import (
    DISCARD_REASONS,
    CallAccepted,
    CallDiscarded,
    CallProtocol,
    CallReady,
    CallRef,
    CallRequested,
    CallServer,
    CallSignaling,
    CallUpdate,
    CallWaiting,
    DhConfig,
    DiscardReason,
    Subscription,
    TelegramCalls,
    TgUser,
)
from telesip.calls.telegram.errors import (
    CalleeUnavailable,
    CallerUnavailable,
    CallGone,
    CallMediaFailed,
    CallPrivacyRestricted,
    NoFreeCaller,
    SessionError,
    SessionRevoked,
    TelegramError,
)

__all__ = [
    "DISCARD_REASONS",
    "CallAccepted",
    "CallDiscarded",
    "CallGone",
    "CallMediaFailed",
    "CallPrivacyRestricted",
    "CallProtocol",
    "CallReady",
    "CallRef",
    "CallRequested",
    "CallServer",
    "CallSignaling",
    "CallUpdate",
    "CallWaiting",
    "CalleeUnavailable",
    "CallerUnavailable",
    "DhConfig",
    "DiscardReason",
    "NoFreeCaller",
    "SessionError",
    "SessionRevoked",
    "Subscription",
    "TelegramCalls",
    "TelegramError",
    "TgUser",
]
