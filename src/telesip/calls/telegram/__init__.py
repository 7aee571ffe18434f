"""The Telegram side of calls: caller accounts, their call RPCs, and the media of a call.

Modules: ``adapter`` (the typed interface), ``telethon_adapter`` (it, on Telethon), ``p2p``
(ntgcalls media), ``leg`` (one outgoing call), ``fake`` (Telegram's call servers in process,
for tests and benchmarks), ``sessions`` and ``cli`` (caller-account logins), ``pool``.
Only the light names are re-exported here; ``leg``, ``p2p`` and ``fake`` load ntgcalls and
numpy, ``telethon_adapter`` loads Telethon, so import them from their modules.
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
