"""Calls as the rest of telesip sees them: the history record, its states and end reasons,
phone numbers typed by people, and the account's number-rewrite rules.

A call belongs to one SIP account ("line") and is made or taken by the account's user (the
assigned user, or the owner while it is not assigned). The worker holding the account's lease
runs it; the bot and the API reach that worker through ``calls`` rows and ``call_commands``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from telesip.domain import rewrite
from telesip.domain.errors import NotAPhoneNumber


class Direction(StrEnum):
    IN = "in"  # the SIP side called the line; it rings in Telegram
    OUT = "out"  # the user dialled from Telegram through the line


class CallState(StrEnum):
    REQUESTED = "requested"  # outgoing: waiting for the worker holding the line
    RINGING = "ringing"  # the Telegram leg (or the SIP far end) is ringing
    ANSWERED = "answered"  # audio is bridged
    ENDED = "ended"


ACTIVE_STATES = (CallState.REQUESTED, CallState.RINGING, CallState.ANSWERED)


class EndReason(StrEnum):
    COMPLETED = "completed"  # answered, then someone hung up
    MISSED = "missed"  # nobody answered in Telegram within the ring timeout
    DECLINED = "declined"  # the Telegram user declined
    BUSY = "busy"  # the Telegram user (or the SIP far end) was busy
    CANCELLED = "cancelled"  # the caller gave up before an answer
    PRIVACY = "privacy"  # the user's privacy settings refuse calls from the caller account
    UNAVAILABLE = "unavailable"  # no caller account free, line disabled, worker gone
    FAILED = "failed"  # the far end refused (SIP status in the record) or something broke
    LIMIT = "limit"  # the worker's TELESIP_MAX_CALLS was reached


#: what a worker may have the service tell the call's person (catalog keys, worded in
#: ``telesip.i18n``): the contract between a worker, local or remote (``POST
#: /api/v1/worker/calls/{id}/messages``, a call's end), the API that checks it and the bot that
#: words it. A worker sends nothing else; every key has a text in both languages (tests).
CALL_NOTICES: frozenset[str] = frozenset(
    {
        "call.calling_you",  # the SIP side rings a Telegram user through a caller account
        "call.incoming",  # a call comes in on the person's line
        "call.missed",
        "call.missed_busy",
        "call.privacy",  # their privacy settings refuse calls from the caller account
        "call.unavailable",
        "call.limit",  # the worker's TELESIP_MAX_CALLS was reached
        "call.ended",
        "call.failed",
        "call.far_busy",
        "call.hold_refused",  # the far side refused the keypad's hold: the call goes on
        "call.not_answered",
        "call.recording",  # the recording's caption
    }
)


class CommandKind(StrEnum):
    DTMF = "dtmf"
    HANGUP = "hangup"
    HOLD = "hold"  # the person puts the far party on hold (re-INVITE sendonly)
    RESUME = "resume"  # and back (re-INVITE sendrecv)


@dataclass(frozen=True, slots=True)
class CallRecord:
    id: int
    account_id: int
    owner_id: int
    user_id: int
    direction: Direction
    number: str  # the far party: who called the line, or whom the user dialled
    line: str  # the line's login, as people know it
    state: CallState
    created_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: EndReason | None = None
    sip_status: int | None = None
    worker_id: int | None = None
    caller: str | None = None  # the Telegram caller account that placed the Telegram leg
    recording: str | None = None  # file name under DATA_DIR/recordings

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def duration(self) -> float | None:
        """Talk time in seconds (from answer to end); None when never answered."""
        if self.answered_at is None or self.ended_at is None:
            return None
        return max(0.0, (self.ended_at - self.answered_at).total_seconds())


_SEPARATORS = re.compile(r"[\s\-().]")
_DIALABLE = re.compile(r"^\+?[0-9*#]{1,32}$")


def parse_number(text: str) -> str:
    """A dialable number from what a person typed (``+7 (495) 123-45-67`` -> ``+74951234567``).

    Accepts digits, ``*`` and ``#`` (service codes, extensions) and one leading ``+``; spaces,
    dashes, dots and parentheses are ignored. Anything else is refused with a clear error.
    """
    if len(text) > 64:
        raise NotAPhoneNumber(text=text[:20] + "…")
    number = _SEPARATORS.sub("", text.strip())
    if number.lower().startswith("tel:"):
        number = number[4:]
    if not _DIALABLE.match(number):
        raise NotAPhoneNumber(text=text.strip())
    return number


def looks_like_number(text: str) -> bool:
    """Whether a chat message is meant as a number to dial (the bot then offers the call)."""
    try:
        number = parse_number(text)
    except NotAPhoneNumber:
        return False
    return sum(c.isdigit() for c in number) >= 2


def rewrite_number(number: str, rules: tuple[tuple[str, str], ...]) -> str:
    """Apply the line's number-rewrite rules (``domain/rewrite.py``: RE2, linear time)."""
    return rewrite.apply(number, rules)
