"""What both call machines share: output queues, timers, transactions, and life inside
the dialog whichever side called.

`CallBase` dispatches responses to our client transactions (by branch and method) and the
peer's requests; it answers BYE, INFO (DTMF), OPTIONS, ACK (stopping the 2xx
retransmission, §13.3.1.4), repeats our response to a retransmitted request, re-sends our
ACK for a repeated 2xx, and sends our BYE and INFO. Re-INVITEs are in `reinvite.py`, the
call setup of each side in `call.py`, states and events in `callstate.py`.
"""

from __future__ import annotations

import random
import secrets
from collections import deque
from dataclasses import dataclass

from .auth import DigestState, parse_challenge
from .callstate import (
    ALLOW,
    SUPPORTED,
    TABLE,
    Answered,
    CallEvent,
    CallState,
    Ended,
    Info,
    MediaChanged,
)
from .dialog import Dialog, parse_dtmf_info
from .errors import AuthError, StateError
from .fields import parse_cseq
from .message import Headers, Request, Response
from .negotiation import (
    DEFAULT_CODECS,
    Keygen,
    Negotiated,
    NoCommonCodec,
    accept_answer,
)
from .sdp import SdpError, SessionDescription
from .transaction import (
    ClientTransaction,
    Final,
    InviteClientTransaction,
    InviteServerTransaction,
    Timeout,
    TransportFailed,
    make_response,
)

__all__ = ["CallBase"]

C = CallState


@dataclass(slots=True)
class _Pending2xx:
    """Our 2xx to an INVITE, retransmitted (T1 doubling to T2) until its ACK (§13.3.1.4)."""

    wire: bytes
    cseq: int
    tx: InviteServerTransaction
    next_at: float | None
    interval: float
    give_up_at: float
    offer: SessionDescription | None  # what our 2xx offered, when the INVITE had no body


class CallBase:
    """Shared machinery; see IncomingCall and OutgoingCall for the constructors."""

    state: CallState
    dialog: Dialog | None

    def __init__(
        self,
        *,
        local_addr: tuple[str, int],
        rng: random.Random,
        transport: str,
        codecs: tuple[str, ...],
        user_agent: str,
        digest: DigestState | None,
        t1: float,
        t2: float,
        t4: float,
    ) -> None:
        self.local_addr = local_addr
        self.rng = rng
        self.transport = transport.upper()
        self.reliable = self.transport != "UDP"
        self.codecs = codecs or DEFAULT_CODECS
        self.media_encryption = "off"  # off | optional | required: how we answer re-INVITEs
        self.keygen: Keygen = secrets.token_bytes  # SRTP master keys of our answers
        self.user_agent = user_agent
        self.digest = digest
        self.t1, self.t2, self.t4 = t1, t2, t4
        self.dialog = None
        self.local_sdp: SessionDescription | None = None
        self.negotiated: Negotiated | None = None
        self._want = "sendrecv"  # our wish: sendonly while we hold
        self._out: list[bytes] = []
        self._events: deque[CallEvent] = deque()
        self._timers: dict[str, float] = {}
        self._clients: dict[tuple[str, str], tuple[ClientTransaction, str]] = {}
        self._servers: dict[str, InviteServerTransaction] = {}  # re-INVITEs from the peer
        self._pending: _Pending2xx | None = None
        self._acks: dict[int, bytes] = {}  # INVITE CSeq -> our ACK for its 2xx
        self._answers: dict[
            tuple[str, str], bytes
        ] = {}  # (Via, method) -> our response, for retransmissions
        self._reinvite: tuple[SessionDescription, int] | None = None  # our offer, challenges
        self._ended = False
        self._bye_after_ack = False

    # -- outputs
    def data_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def next_event(self) -> CallEvent | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        times = [*self._timers.values()]
        times += [t for tx, _ in self._clients.values() if (t := tx.get_timer()) is not None]
        times += [t for tx in self._servers.values() if (t := tx.get_timer()) is not None]
        if self._pending is not None:
            p = self._pending
            times += [p.give_up_at] + ([p.next_at] if p.next_at is not None else [])
        return min(times, default=None)

    @property
    def done(self) -> bool:
        """Over, and nothing left to retransmit or absorb: the machine can be dropped."""
        return self.state is C.ENDED and self.get_timer() is None

    @property
    def next_hop(self) -> str | None:
        """Where in-dialog requests go first (route set, else the peer's Contact)."""
        return self.dialog.next_hop if self.dialog is not None else None

    # -- plumbing
    def _go(self, event: str) -> CallState:
        try:
            self.state = TABLE[(self.state, event)]
        except KeyError:
            raise StateError(f"{type(self).__name__}: {event} in {self.state.value}") from None
        return self.state

    def _end(self, reason: str) -> None:
        if not self._ended:
            self._ended = True
            self._events.append(Ended(reason))

    def _respond(self, req: Request, status: int, reason: str, **headers: str) -> None:
        tag = self.dialog.local_tag if self.dialog is not None else None
        resp = make_response(req, status, reason, tag=tag)
        for name, value in headers.items():
            resp.headers.add(name.replace("_", "-"), value)
        data = resp.to_bytes()
        self._out.append(data)
        via = req.headers.get_all("Via")
        if via and status >= 200:
            self._answers[(via[0], req.method)] = data
            while len(self._answers) > 32:
                del self._answers[next(iter(self._answers))]

    def _start_client(self, req: Request, purpose: str, now: float) -> None:
        branch = req.headers.get_all("Via")[0].rpartition("branch=")[2].partition(";")[0]
        cls = InviteClientTransaction if req.method == "INVITE" else ClientTransaction
        tx = cls(req, branch, reliable=self.reliable, t1=self.t1, t2=self.t2, t4=self.t4)
        tx.start(now)
        self._out.extend(tx.data_to_send())
        self._clients[(branch, req.method)] = (tx, purpose)

    def _authorize(self, req: Request) -> None:
        if self.digest is not None:
            cnonce = f"{self.rng.getrandbits(64):016x}"
            auth = self.digest.authorize(req.method, req.uri, cnonce)
            if auth is not None:
                req.headers.add(*auth)

    def _take_challenge(self, resp: Response) -> bool:
        """True when the 401/407 carries a challenge we can answer."""
        if self.digest is None:
            return False
        name = "Proxy-Authenticate" if resp.status == 407 else "WWW-Authenticate"
        for value in resp.headers.get_all(name):
            try:
                self.digest.set_challenge(parse_challenge(value, proxy=resp.status == 407))
                return True
            except AuthError:
                continue
        return False

    # -- inputs
    def handle_timer(self, now: float) -> None:
        for key, (tx, purpose) in list(self._clients.items()):
            tx.handle_timer(now)
            self._out.extend(tx.data_to_send())
            self._drain_client(key, tx, purpose, now)
        for branch, stx in list(self._servers.items()):
            stx.handle_timer(now)
            self._out.extend(stx.data_to_send())
            if stx.terminated:
                del self._servers[branch]
        p = self._pending
        if p is not None:
            if now >= p.give_up_at:
                self._pending = None
                self._on_no_ack(now)
            elif p.next_at is not None and now >= p.next_at:
                self._out.append(p.wire)
                p.interval = min(2 * p.interval, self.t2)
                p.next_at = now + p.interval
        for name, due in sorted(self._timers.items(), key=lambda kv: kv[1]):
            if due <= now and self._timers.get(name) == due:
                del self._timers[name]
                self._on_timer(name, now)

    def receive(self, msg: Request | Response, now: float) -> None:
        """A message of this call (the shell routes by Call-ID)."""
        if isinstance(msg, Response):
            self._receive_response(msg, now)
        else:
            self._receive_request(msg, now)

    def _receive_response(self, resp: Response, now: float) -> None:
        via = resp.via()
        try:
            num, method = parse_cseq(resp.headers.get("CSeq") or "")
        except ValueError:
            return
        key = ((via.branch or "") if via is not None else "", method)
        hit = self._clients.get(key)
        if hit is None:
            if method == "INVITE" and 200 <= resp.status < 300 and num in self._acks:
                self._out.append(self._acks[num])  # the 2xx again: our ACK was lost
            return
        tx, purpose = hit
        tx.receive_response(resp, now)
        self._out.extend(tx.data_to_send())
        self._drain_client(key, tx, purpose, now)

    def _drain_client(
        self, key: tuple[str, str], tx: ClientTransaction, purpose: str, now: float
    ) -> None:
        while (ev := tx.next_event()) is not None:
            if isinstance(ev, Final):
                self._on_final(purpose, tx.request, ev.response, now)
            elif isinstance(ev, Timeout | TransportFailed):
                self._on_final(purpose, tx.request, None, now)
            elif hasattr(ev, "response"):
                self._on_provisional(purpose, ev.response, now)
        if tx.terminated:
            self._clients.pop(key, None)

    def _on_provisional(self, purpose: str, resp: Response, now: float) -> None:
        pass

    def _on_timer(self, name: str, now: float) -> None:
        pass

    def _on_reinvite_in(self, req: Request, now: float) -> None:
        raise NotImplementedError  # reinvite.ReinviteCall

    def _on_final(self, purpose: str, req: Request, resp: Response | None, now: float) -> None:
        status = resp.status if resp is not None else 408
        if purpose == "bye":
            if (
                resp is not None
                and status in (401, 407)
                and req.headers.get("Authorization" if status == 401 else "Proxy-Authorization")
                is None
                and self._take_challenge(resp)
            ):
                self._send_bye(now)
                return
            if self.state is C.ENDING:
                self._go("bye_done")
            self._end("local-bye")

    def _receive_request(self, req: Request, now: float) -> None:
        vias = req.headers.get_all("Via")
        top = vias[0] if vias else ""
        if req.method != "ACK" and (top, req.method) in self._answers:
            self._out.append(
                self._answers[(top, req.method)]
            )  # a retransmission: the same answer again
            return
        branch = top.rpartition("branch=")[2].partition(";")[0]
        if branch in self._servers and req.method in ("INVITE", "ACK"):
            stx = self._servers[branch]
            stx.receive_request(req, now)
            self._out.extend(stx.data_to_send())
            if req.method == "INVITE" or stx.state.value != "accepted":
                return
        self._in_dialog(req, now)

    def _in_dialog(self, req: Request, now: float) -> None:
        d = self.dialog
        if d is None or self.state in (C.CALLING, C.EARLY, C.CANCELLING):
            if req.method != "ACK":
                self._respond(req, 481, "Call/Transaction Does Not Exist")
            return
        status = d.check(req)
        if status is not None:
            if req.method != "ACK":
                reason = {481: "Call/Transaction Does Not Exist", 500: "Server Internal Error"}
                self._respond(req, status, reason.get(status, "Bad Request"))
            return
        m = req.method
        if m == "ACK":
            self._on_ack(req, now)
        elif m == "BYE":
            self._respond(req, 200, "OK")
            if self.state is not C.ENDED:
                self._pending = None
                self._go("bye_in")
                self._end("remote-bye")
                if not self.reliable:
                    self._timers["linger"] = now + 64 * self.t1  # our 200 may be lost
        elif m == "INVITE":
            self._on_reinvite_in(req, now)
        elif m == "INFO":
            ctype = req.headers.get("Content-Type")
            digit = parse_dtmf_info(ctype, req.body)
            if req.body and digit is None and ctype is not None and "dtmf" not in ctype:
                self._respond(req, 415, "Unsupported Media Type")
                return
            self._respond(req, 200, "OK")
            if digit is not None:
                self._events.append(Info(digit))
        elif m == "OPTIONS":
            self._respond(req, 200, "OK", Allow=ALLOW, Accept="application/sdp")
        else:
            self._respond(req, 405, "Method Not Allowed", Allow=ALLOW)

    def _on_ack(self, req: Request, now: float) -> None:
        p = self._pending
        try:
            num, _ = parse_cseq(req.headers.get("CSeq") or "")
        except ValueError:
            return
        if p is None or num != p.cseq:
            return  # a retransmitted ACK, or one for another INVITE
        self._pending = None
        offer = p.offer
        if self.state is C.ANSWERING:
            self._go("ack")
            self._events.append(Answered(req.body or None))
            if self._bye_after_ack:
                self._hangup_confirmed(now)
        elif offer is not None and req.body:
            self._settle(offer, req.body, our_offer=True)

    def _on_no_ack(self, now: float) -> None:
        if self.state is C.ANSWERING:
            self._go("no_ack")
            self._end("no-ack")
            self._send_bye(now)
        elif self.state is C.CONFIRMED:
            self._go("dialog_lost")
            self._end("no-ack")
            self._send_bye(now)

    # -- our requests inside the dialog
    def hangup(self, now: float) -> None:
        """BYE (or, before the call is confirmed, what the subclass says)."""
        if self.state is C.ANSWERING:
            self._go("hangup")
            self._bye_after_ack = True
            return
        if self.state is C.CONFIRMED:
            self._hangup_confirmed(now)
            return
        self._go("hangup")

    def _hangup_confirmed(self, now: float) -> None:
        self._go("hangup")
        self._send_bye(now)

    def _send_bye(self, now: float) -> None:
        assert self.dialog is not None
        req = self.dialog.request("BYE")
        self._authorize(req)
        self._start_client(req, "bye", now)

    def send_info(self, digit: str, now: float, *, duration: int = 160) -> None:
        """A DTMF digit as SIP INFO (application/dtmf-relay)."""
        self._go("info")
        assert self.dialog is not None
        req = self.dialog.info_dtmf(digit, duration)
        self._authorize(req)
        self._start_client(req, "info", now)

    def _settle(self, offer: SessionDescription, body: bytes, *, our_offer: bool) -> bool:
        try:
            theirs = SessionDescription.parse(body)
            neg = accept_answer(offer, theirs)
        except (SdpError, NoCommonCodec):
            return False
        self.local_sdp = offer
        if neg != self.negotiated:  # a session refresh changes nothing: no event
            self._events.append(MediaChanged(neg, body))
        self.negotiated = neg
        return True

    def _unsupported(self, req: Request) -> list[str]:
        try:
            required = req.headers.get_all("Require")
        except ValueError:
            return ["(unreadable)"]
        return [r for r in required if r.lower() not in SUPPORTED]

    def _add_2xx_headers(self, resp: Response) -> None:
        assert self.dialog is not None
        h: Headers = resp.headers
        h.add("Contact", f"<{self.dialog.local_contact}>")
        h.add("Allow", ALLOW)
        h.add("Server", self.user_agent)
        if resp.body:
            h.add("Content-Type", "application/sdp")

    def _await_ack(
        self,
        resp: Response,
        cseq: int,
        tx: InviteServerTransaction,
        now: float,
        offer: SessionDescription | None,
    ) -> None:
        first = None if self.reliable else now + self.t1
        self._pending = _Pending2xx(resp.to_bytes(), cseq, tx, first, self.t1, now + 64 * self.t1,
                                    offer)  # fmt: skip
