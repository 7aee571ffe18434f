"""The two call machines, sans-I/O and driven like `Registration`.

`receive(msg, now)`, `handle_timer(now)` and the methods below feed them; `data_to_send()`
drains bytes (responses go back where the request came from; new requests go to the
account's proxy, or to `next_hop`), `next_event()` drains `CallEvent`s, `get_timer()` says
when to come back, `done` says when the machine can be dropped. Methods that the state
table does not allow raise StateError. See docs/calls.md for the flows.

- `IncomingCall` (UAS): 100 Trying at once; 420 with Unsupported for a `Require` we lack
  (event Failed(420)); `ringing()`, `progress(sdp)`, `answer(sdp)` (200 OK retransmitted
  until the ACK, timer H → Ended("no-ack") and BYE), `reject(status)`; the peer's CANCEL
  (200, 487, Cancelled).
- `OutgoingCall` (UAC): INVITE with our offer; one retry with digest credentials on
  401/407; Progress on 18x, Answered on 2xx (ACK sent, again for each repeated 2xx),
  Failed on >= 300 or timer B (408); `cancel()` sends CANCEL once a provisional has come
  (RFC 3261 §9.1) and ACKs then BYEs a 200 that crosses it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from .auth import DigestState
from .callstate import (
    ALLOW,
    Answered,
    CallEvent,
    CallState,
    Cancelled,
    Ended,
    Failed,
    Info,
    MediaChanged,
    Progress,
    ReinviteFailed,
)
from .dialog import Dialog, format_host
from .errors import ParseError
from .fields import parse_via
from .message import Headers, Request, Response
from .negotiation import DEFAULT_CODECS, NoCommonCodec, accept_answer
from .registration import escape_user
from .reinvite import ReinviteCall
from .sdp import SdpError, SessionDescription
from .transaction import T1, T2, T4, InviteServerTransaction, make_response

__all__ = [
    "Answered",
    "CallEvent",
    "CallParams",
    "CallState",
    "Cancelled",
    "Ended",
    "Failed",
    "IncomingCall",
    "Info",
    "MediaChanged",
    "OutgoingCall",
    "Progress",
    "ReinviteFailed",
]

C = CallState
REASONS = {
    180: "Ringing", 183: "Session Progress", 200: "OK", 400: "Bad Request", 403: "Forbidden",
    404: "Not Found", 408: "Request Timeout", 420: "Bad Extension", 480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 500: "Server Internal Error", 503: "Service Unavailable",
    603: "Decline",
}  # fmt: skip


def _contact(user: str, addr: tuple[str, int], transport: str) -> str:
    suffix = "" if transport.upper() == "UDP" else f";transport={transport.lower()}"
    return f"sip:{escape_user(user)}@{format_host(addr[0])}:{addr[1]}{suffix}"


def _parse_sdp(body: bytes) -> SessionDescription | None:
    try:
        return SessionDescription.parse(body) if body else None
    except SdpError:
        return None


class IncomingCall(ReinviteCall):
    """The UAS side of a call from the INVITE on."""

    def __init__(
        self,
        invite: Request,
        *,
        local_addr: tuple[str, int],
        tag: str,
        now: float,
        rng: random.Random | None = None,
        codecs: tuple[str, ...] = DEFAULT_CODECS,
        contact_user: str | None = None,
        user_agent: str = "telesip",
        media_encryption: str = "off",
        t1: float = T1,
        t2: float = T2,
        t4: float = T4,
    ) -> None:
        vias = invite.headers.get_all("Via")
        transport = parse_via(vias[0]).transport if vias else "UDP"
        rng = rng or random.Random()
        super().__init__(
            local_addr=local_addr, rng=rng, transport=transport, codecs=codecs,
            user_agent=user_agent, digest=None, t1=t1, t2=t2, t4=t4,
        )  # fmt: skip
        self.media_encryption = media_encryption
        self.invite = invite
        self.state = C.CALLING
        user = contact_user
        if user is None:
            user = invite.uri.partition(":")[2].partition("@")[0] if "@" in invite.uri else ""
        self.dialog = Dialog.from_invite(
            invite, local_tag=tag, local_contact=_contact(user, local_addr, self.transport),
            local_addr=local_addr, transport=self.transport, rng=rng, user_agent=user_agent,
        )  # fmt: skip
        self._tx = InviteServerTransaction(invite, reliable=self.reliable, t1=t1, t2=t2, t4=t4)
        self._servers[self._tx.branch] = self._tx
        self._tx.start(now)
        self._out.extend(self._tx.data_to_send())
        if bad := self._unsupported(invite):
            self._final(420, now, Unsupported=", ".join(bad))
            self._go("reject")
            self._events.append(Failed(420, REASONS[420]))

    @property
    def offer(self) -> bytes | None:
        """The caller's SDP offer (None: a late offer, ours goes in the 200)."""
        return self.invite.body or None

    def _final(self, status: int, now: float, body: bytes = b"", **headers: str) -> Response:
        assert self.dialog is not None
        reason = REASONS.get(status, "Unknown")
        resp = make_response(self.invite, status, reason, tag=self.dialog.local_tag, body=body)
        if 100 < status < 300:  # responses that make the dialog carry its route (§12.1.1)
            for route in self.invite.headers.get_all("Record-Route"):
                resp.headers.add("Record-Route", route)
        if status < 300:
            self._add_2xx_headers(resp)
        for name, value in headers.items():
            resp.headers.add(name.replace("_", "-"), value)
        self._tx.respond(resp, now)
        self._out.extend(self._tx.data_to_send())
        return resp

    def ringing(self, now: float) -> None:
        """180 Ringing (with our To tag and Contact)."""
        self._go("ringing")
        self._final(180, now)

    def progress(self, sdp: bytes, now: float) -> None:
        """183 Session Progress with SDP: early media (ringback from us)."""
        self._go("ringing")
        self._final(183, now, sdp)

    def answer(self, sdp: bytes, now: float) -> None:
        """200 OK with our SDP (an answer, or our offer when the INVITE had none),
        retransmitted until the ACK; no ACK within 64*T1 ends the call (BYE)."""
        self._go("answer")
        self.local_sdp = _parse_sdp(sdp)
        offer = self.local_sdp if not self.invite.body else None
        if self.invite.body and self.local_sdp is not None:
            theirs = _parse_sdp(self.invite.body)
            if theirs is not None:
                try:  # what we agreed, read back from our answer (their offer's addresses)
                    self.negotiated = accept_answer(self.local_sdp, theirs)
                except NoCommonCodec:
                    self.negotiated = None
        extra: dict[str, str] = {}
        se = self.invite.headers.get("Session-Expires")
        if se and "timer" in [s.lower() for s in self._supported()]:
            extra = {"Session_Expires": f"{se.partition(';')[0].strip()};refresher=uac",
                     "Require": "timer"}  # fmt: skip
        resp = self._final(200, now, sdp, **extra)
        num = int((self.invite.headers.get("CSeq") or "0").split()[0])
        self._await_ack(resp, num, self._tx, now, offer)

    def _supported(self) -> list[str]:
        try:
            return self.invite.headers.get_all("Supported")
        except ParseError:
            return []

    def reject(
        self,
        status: int,
        now: float,
        *,
        reason: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """A final 3xx-6xx (486 busy, 480 unavailable, 603 decline, 488, 503, 420 ...)."""
        if not 300 <= status <= 699:
            raise ValueError("reject needs a 3xx-6xx status")
        self._go("reject")
        assert self.dialog is not None
        resp = make_response(
            self.invite,
            status,
            reason or REASONS.get(status, "Rejected"),
            tag=self.dialog.local_tag,
        )
        for name, value in headers:
            resp.headers.add(name, value)
        if status == 420 and "Unsupported" not in resp.headers:
            resp.headers.add("Unsupported", ", ".join(self._unsupported(self.invite)) or "100rel")
        self._tx.respond(resp, now)
        self._out.extend(self._tx.data_to_send())

    def hangup(self, now: float) -> None:
        """BYE; before the answer: 480 (use `reject` for another status)."""
        if self.state in (C.CALLING, C.EARLY):
            self.reject(480, now)
            return
        super().hangup(now)

    def _receive_request(self, req: Request, now: float) -> None:
        early = self.state in (C.CALLING, C.EARLY)
        if req.method == "CANCEL":
            vias = req.headers.get_all("Via")
            branch = parse_via(vias[0]).branch if vias else None
            if branch != self._tx.branch:
                self._respond(req, 481, REASONS[481])
                return
            self._respond(req, 200, "OK")
            if early:
                self._final(487, now)
                self._go("failed")
                self._events.append(Cancelled())
            return
        d = self.dialog
        if req.method == "BYE" and early and d is not None and d.check(req) is None:
            self._respond(req, 200, "OK")  # the caller gave up on an early dialog
            self._final(487, now)
            self._go("failed")
            self._events.append(Cancelled())
            return
        super()._receive_request(req, now)


@dataclass(frozen=True, slots=True)
class CallParams:
    """The account placing the call."""

    user: str
    domain: str
    password: str = field(repr=False)
    auth_username: str | None = None
    display_name: str | None = None
    proxy: str | None = None  # outbound proxy / registrar URI, sent as a loose Route
    transport: str = "UDP"
    user_agent: str = "telesip"


class OutgoingCall(ReinviteCall):
    """The UAC side: our INVITE to `target_uri` with `sdp_offer`."""

    _owns_call_id = True

    def __init__(
        self,
        params: CallParams,
        target_uri: str,
        sdp_offer: bytes,
        *,
        local_addr: tuple[str, int],
        now: float,
        rng: random.Random | None = None,
        codecs: tuple[str, ...] = DEFAULT_CODECS,
        call_id: str | None = None,
        extra_headers: Iterable[tuple[str, str]] = (),
        media_encryption: str = "off",
        t1: float = T1,
        t2: float = T2,
        t4: float = T4,
    ) -> None:
        rng = rng or random.Random()
        digest = DigestState(params.auth_username or params.user, params.password)
        super().__init__(
            local_addr=local_addr, rng=rng, transport=params.transport, codecs=codecs,
            user_agent=params.user_agent, digest=digest, t1=t1, t2=t2, t4=t4,
        )  # fmt: skip
        self.media_encryption = media_encryption
        self.params = params
        self.target_uri = target_uri
        self.state = C.CALLING
        self.call_id = call_id or f"{rng.getrandbits(96):024x}@telesip"
        self.from_tag = f"{rng.getrandbits(48):012x}"
        self.cseq = 0
        self.offer = sdp_offer
        self.local_sdp = _parse_sdp(sdp_offer)
        self.contact = _contact(params.user, local_addr, self.transport)
        self._extra = list(extra_headers)
        self._challenged = False
        self._provisional = False
        self._cancel_sent = False
        self._invite = self._send_invite(now)

    def _send_invite(self, now: float) -> Request:
        p = self.params
        self.cseq += 1
        branch = f"z9hG4bK{self.rng.getrandbits(64):016x}"
        h = Headers()
        host, port = self.local_addr
        h.add("Via", f"SIP/2.0/{self.transport} {format_host(host)}:{port};rport;branch={branch}")
        h.add("Max-Forwards", "70")
        disp = f'"{p.display_name}" ' if p.display_name else ""
        h.add("From", f"{disp}<sip:{escape_user(p.user)}@{p.domain}>;tag={self.from_tag}")
        h.add("To", f"<{self.target_uri}>")
        h.add("Call-ID", self.call_id)
        h.add("CSeq", f"{self.cseq} INVITE")
        if p.proxy:
            h.add("Route", f"<{p.proxy};lr>")
        h.add("Contact", f"<{self.contact}>")
        h.add("Allow", ALLOW)
        h.add("Supported", "timer")  # RFC 4028: we refresh when the 2xx makes us refresher
        h.add("User-Agent", p.user_agent)
        for name, value in self._extra:
            h.add(name, value)
        if self.offer:
            h.add("Content-Type", "application/sdp")
        req = Request("INVITE", self.target_uri, h, self.offer)
        self._authorize(req)
        self._start_client(req, "invite", now)
        return req

    def cancel(self, now: float) -> None:
        """Give up before the answer: CANCEL once a provisional response has come."""
        self._go("cancel")
        if self._provisional and not self._cancel_sent:
            self._send_cancel(now)

    def hangup(self, now: float) -> None:
        """BYE once answered; before that, cancel()."""
        if self.state in (C.CALLING, C.EARLY, C.CANCELLING):
            self.cancel(now)
            return
        super().hangup(now)

    def _send_cancel(self, now: float) -> None:
        src = self._invite.headers
        h = Headers()
        h.add("Via", src.get_all("Via")[0])
        for route in src.get_all("Route"):
            h.add("Route", route)
        h.add("Max-Forwards", "70")
        for name in ("From", "To", "Call-ID"):
            h.add(name, src.get(name) or "")
        h.add("CSeq", f"{self.cseq} CANCEL")
        h.add("User-Agent", self.params.user_agent)
        self._start_client(Request("CANCEL", self._invite.uri, h), "cancel", now)
        self._cancel_sent = True
        self._timers["cancel_guard"] = now + 64 * self.t1  # §9.1: no final after CANCEL

    def _on_timer(self, name: str, now: float) -> None:
        if name == "cancel_guard" and self.state is C.CANCELLING:
            for key, (_, purpose) in list(self._clients.items()):
                if purpose == "invite":
                    del self._clients[key]
            self._go("failed")
            self._events.append(Cancelled())
            return
        super()._on_timer(name, now)

    def _on_provisional(self, purpose: str, resp: Response, now: float) -> None:
        if purpose != "invite":
            return
        self._provisional = True
        if self.state is C.CANCELLING:
            if not self._cancel_sent:
                self._send_cancel(now)
            return
        if resp.status > 100:
            self._go("provisional")
            self._events.append(Progress(resp.status, resp.reason, resp.body or None))

    def _on_final(self, purpose: str, req: Request, resp: Response | None, now: float) -> None:
        if purpose == "cancel":
            return
        if purpose != "invite":
            super()._on_final(purpose, req, resp, now)
            return
        cancelling = self.state is C.CANCELLING
        if resp is not None and 200 <= resp.status < 300:
            self._on_2xx(req, resp, now, cancelling)
            return
        status = resp.status if resp is not None else 408
        if (
            resp is not None and status in (401, 407) and not cancelling and not self._challenged
            and self._take_challenge(resp)
        ):  # fmt: skip
            self._challenged = True
            self._go("challenge")
            self._provisional = False
            self._invite = self._send_invite(now)
            return
        self._timers.pop("cancel_guard", None)
        self._go("failed")
        if cancelling:
            self._events.append(Cancelled())
        else:
            reason = resp.reason if resp is not None else "Request Timeout"
            self._events.append(Failed(status, reason))

    def _on_2xx(self, req: Request, resp: Response, now: float, cancelling: bool) -> None:
        self._timers.pop("cancel_guard", None)
        dialog = Dialog.from_response(
            req, resp, local_contact=self.contact, local_addr=self.local_addr,
            transport=self.transport, rng=self.rng, user_agent=self.params.user_agent,
        )  # fmt: skip
        self.dialog = dialog
        ack = dialog.ack(self.cseq)
        data = ack.to_bytes()
        self._acks[self.cseq] = data
        self._out.append(data)
        self._go("answered")
        if cancelling:  # the 200 crossed our CANCEL: the call exists, end it at once
            self._ended = True
            self._events.append(Cancelled())
            self._send_bye(now)
            return
        theirs = _parse_sdp(resp.body)
        if self.local_sdp is not None and theirs is not None:
            try:
                self.negotiated = accept_answer(self.local_sdp, theirs)
            except NoCommonCodec:
                self.negotiated = None
        self._arm_refresh(resp, now)
        self._events.append(Answered(resp.body or None))
