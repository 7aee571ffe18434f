"""Call states, their transitions (`_TABLE`, the one place they are listed) and the events
the call machines emit (`CallEvent`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from .negotiation import Negotiated

__all__ = [
    "ALLOW",
    "SUPPORTED",
    "TABLE",
    "Answered",
    "CallEvent",
    "CallState",
    "Cancelled",
    "Ended",
    "Failed",
    "Info",
    "MediaChanged",
    "Progress",
    "ReinviteFailed",
]

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"
SUPPORTED = frozenset({"timer"})  # Session-Expires is echoed with refresher=uac; nothing else


class CallState(Enum):
    CALLING = "calling"  # UAC: INVITE sent; UAS: INVITE received, 100 sent
    EARLY = "early"  # UAC: a provisional came; UAS: 180/183 sent
    CANCELLING = "cancelling"  # UAC: CANCEL sent or waiting for a provisional to send it
    ANSWERING = "answering"  # UAS: 200 sent, no ACK yet
    CONFIRMED = "confirmed"
    ENDING = "ending"  # our BYE is out
    ENDED = "ended"


C = CallState
TABLE: dict[tuple[CallState, str], CallState] = {
    # UAS setup
    (C.CALLING, "ringing"): C.EARLY,
    (C.EARLY, "ringing"): C.EARLY,
    (C.CALLING, "answer"): C.ANSWERING,
    (C.EARLY, "answer"): C.ANSWERING,
    (C.CALLING, "reject"): C.ENDED,
    (C.EARLY, "reject"): C.ENDED,
    (C.ANSWERING, "ack"): C.CONFIRMED,
    (C.ANSWERING, "no_ack"): C.ENDING,
    (C.ANSWERING, "hangup"): C.ANSWERING,  # BYE once the ACK is in (§15)
    # UAC setup
    (C.CALLING, "provisional"): C.EARLY,
    (C.EARLY, "provisional"): C.EARLY,
    (C.CANCELLING, "provisional"): C.CANCELLING,
    (C.CALLING, "challenge"): C.CALLING,
    (C.EARLY, "challenge"): C.CALLING,
    (C.CALLING, "answered"): C.CONFIRMED,
    (C.EARLY, "answered"): C.CONFIRMED,
    (C.CANCELLING, "answered"): C.ENDING,  # a 200 crossed our CANCEL: ACK, then BYE
    (C.CALLING, "cancel"): C.CANCELLING,
    (C.EARLY, "cancel"): C.CANCELLING,
    (C.CANCELLING, "cancel"): C.CANCELLING,
    (C.CALLING, "failed"): C.ENDED,  # also: the UAS's CANCEL from the peer
    (C.EARLY, "failed"): C.ENDED,
    (C.CANCELLING, "failed"): C.ENDED,
    # in the dialog
    (C.ANSWERING, "bye_in"): C.ENDED,
    (C.CONFIRMED, "bye_in"): C.ENDED,
    (C.ENDING, "bye_in"): C.ENDING,
    (C.CONFIRMED, "hangup"): C.ENDING,
    (C.CONFIRMED, "reinvite"): C.CONFIRMED,
    (C.CONFIRMED, "info"): C.CONFIRMED,
    (C.CONFIRMED, "dialog_lost"): C.ENDING,
    (C.ENDING, "hangup"): C.ENDING,
    (C.ENDING, "bye_done"): C.ENDED,
    (C.ENDED, "hangup"): C.ENDED,  # both legs may hang up at once: harmless
}


@dataclass(frozen=True, slots=True)
class Progress:
    """UAC: an 18x came; `sdp` is early media (feed it to `negotiation.accept_answer`)."""

    status: int
    reason: str
    sdp: bytes | None = field(repr=False)  # SDP may carry SRTP keys: never in a repr


@dataclass(frozen=True, slots=True)
class Answered:
    """UAC: the 2xx came (ACK sent). UAS: the ACK confirmed our 2xx (`sdp` when it is the
    answer to an offer we made in the 200, i.e. the INVITE had no body)."""

    sdp: bytes | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class MediaChanged:
    """A re-INVITE (theirs or ours) settled new media: hold, resume, new address."""

    negotiated: Negotiated
    sdp: bytes = field(repr=False)  # the peer's description


@dataclass(frozen=True, slots=True)
class Cancelled:
    """The call was cancelled before it was answered (by the peer's CANCEL or our cancel())."""


@dataclass(frozen=True, slots=True)
class Failed:
    """Call setup failed: a >= 300 final response (UAC), or the INVITE we refused (UAS 420)."""

    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class Ended:
    """The confirmed call is over: remote-bye, local-bye, no-ack, dialog-lost."""

    reason: str


@dataclass(frozen=True, slots=True)
class Info:
    """A DTMF digit from the peer's INFO (application/dtmf-relay or application/dtmf)."""

    digit: str


@dataclass(frozen=True, slots=True)
class ReinviteFailed:
    """Our hold/resume re-INVITE was refused; the media stay as they were."""

    status: int
    reason: str


CallEvent = Progress | Answered | MediaChanged | Cancelled | Failed | Ended | Info | ReinviteFailed
