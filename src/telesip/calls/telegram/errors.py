"""Errors of the calls' Telegram side: their own tree, outside the person-facing one (they share
only its shape, ``telesip.domain.errors.CodedError``).

Telethon's RPC errors and ntgcalls' exceptions are translated into these at the adapter
boundary (``raise ... from exc``); nothing above this package sees a library error. The bridge
turns them into a call's end and a call notice; the ``telesip telegram`` commands print them.

    TelegramError               telegram_error: the Telegram side failed
    ├── CallPrivacyRestricted   call_privacy_restricted: the person's privacy settings
    │                           refuse calls from this caller account
    ├── CalleeUnavailable       callee_unavailable: unknown, deleted, or an app too old
    ├── CallerUnavailable       caller_unavailable: the caller account cannot call now
    │   │                       (flood wait, unreachable)
    │   └── SessionRevoked      session_revoked: logged out, revoked or banned; only a
    │                           new login helps
    ├── CallGone                call_gone: the call was already ended or answered elsewhere
    ├── CallMediaFailed         call_media_failed: ntgcalls could not set up the media
    ├── NoFreeCaller            no_free_caller: every caller account is in a call
    └── SessionError            telegram_session: a stored session is missing, unreadable,
                                or the login did not complete
"""

from __future__ import annotations

from telesip.domain.errors import CodedError


class TelegramError(CodedError):
    code = "telegram_error"
    default_message = "Telegram refused the request: {reason}"


class CallPrivacyRestricted(TelegramError):
    code = "call_privacy_restricted"
    default_message = (
        "Telegram user {user_id}'s privacy settings do not allow calls from this account; "
        "they can allow it in Settings → Privacy and Security → Calls."
    )


class CalleeUnavailable(TelegramError):
    code = "callee_unavailable"
    default_message = "Telegram user {user_id} cannot be called: {reason}"


class CallerUnavailable(TelegramError):
    code = "caller_unavailable"
    default_message = "The caller account cannot place calls now: {reason}"


class SessionRevoked(CallerUnavailable):
    code = "session_revoked"
    default_message = (
        "The caller account's session is no longer valid (revoked, logged out or banned): "
        "run `telesip telegram login` again."
    )


class CallGone(TelegramError):
    code = "call_gone"
    default_message = "The call has already ended ({reason})."


class CallMediaFailed(TelegramError):
    code = "call_media_failed"
    default_message = "The call's audio could not be set up: {reason}"


class NoFreeCaller(TelegramError):
    code = "no_free_caller"
    default_message = "No caller account is free: {reason}"


class SessionError(TelegramError):
    code = "telegram_session"
    default_message = "Telegram session: {reason}"
