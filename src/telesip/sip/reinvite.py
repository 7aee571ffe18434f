"""Re-INVITEs inside a call (RFC 3261 §14, RFC 3264 §8): hold and resume both ways.

Ours: `hold()` offers our last description sendonly, `resume()` sendrecv (o= version one
up); the 2xx is ACKed and settled with `accept_answer` (MediaChanged), 401/407 answered
once, 491 retried after the random wait of §14.1, 408/481 end the call, other refusals
give ReinviteFailed. Theirs: answered at once with `negotiation.answer` on our last
description (their sendonly is our recvonly; a new a=crypto of theirs gets a new key of ours,
the line's `media_encryption` still applies), 488 when nothing fits, 491 while ours is
out, 500 + Retry-After while our 2xx waits for its ACK; an offerless re-INVITE gets our
description in the 200 and its answer in the ACK. RFC 4028: when a 2xx makes us the
refresher we re-INVITE with the same description at half the interval.
"""

from __future__ import annotations

from .callbase import CallBase
from .callstate import ALLOW, CallState, MediaChanged, ReinviteFailed
from .errors import StateError
from .fields import parse_cseq
from .message import Request, Response
from .negotiation import NoCommonCodec, answer, with_direction
from .sdp import SdpError, SessionDescription
from .transaction import InviteServerTransaction, make_response

__all__ = ["ReinviteCall"]

C = CallState


class ReinviteCall(CallBase):
    """CallBase plus re-INVITEs; IncomingCall and OutgoingCall derive from it."""

    _owns_call_id = False  # the UAC of the call owns its Call-ID (§14.1 glare timing)

    def _on_timer(self, name: str, now: float) -> None:
        idle = self.state is C.CONFIRMED and self._reinvite is None and self._pending is None
        if name == "reinvite_retry" and idle:
            self._send_reinvite(self._retry_offer, now)
        elif name == "refresh" and self.local_sdp is not None:
            if idle:  # RFC 4028 session refresh: the same description, same version
                self._send_reinvite(self.local_sdp, now)
            elif self.state is C.CONFIRMED:
                self._timers["refresh"] = now + 1.0

    def _arm_refresh(self, resp: Response, now: float) -> None:
        """A 2xx to our INVITE naming us refresher (RFC 4028): re-INVITE at half the time."""
        se = resp.headers.get("Session-Expires") or ""
        value, _, params = se.partition(";")
        if value.strip().isdigit() and "refresher=uac" in params.replace(" ", "").lower():
            self._timers["refresh"] = now + max(int(value.strip()), 90) / 2

    def hold(self, now: float) -> None:
        """Re-INVITE with our description sendonly (the peer answers recvonly)."""
        self._change_direction("sendonly", now)

    def resume(self, now: float) -> None:
        self._change_direction("sendrecv", now)

    def _change_direction(self, direction: str, now: float) -> None:
        self._go("reinvite")
        if self._reinvite is not None or self._pending is not None:
            raise StateError("a re-INVITE is already in progress")
        if self.local_sdp is None:
            raise StateError("no local description to re-offer")
        self._want = direction
        self._send_reinvite(with_direction(self.local_sdp, direction), now)

    @property
    def _retry_offer(self) -> SessionDescription:
        assert self.local_sdp is not None
        return with_direction(self.local_sdp, self._want)

    def _send_reinvite(self, offer: SessionDescription, now: float, challenges: int = 0) -> None:
        assert self.dialog is not None
        req = self.dialog.request(
            "INVITE",
            offer.to_bytes(),
            "application/sdp",
            extra=[("Allow", ALLOW), ("Supported", "timer")],
        )
        self._authorize(req)
        self._reinvite = (offer, challenges)
        self._start_client(req, "reinvite", now)

    def _on_reinvite_final(self, req: Request, resp: Response | None, now: float) -> None:
        assert self._reinvite is not None and self.dialog is not None
        offer, challenges = self._reinvite
        self._reinvite = None
        status = resp.status if resp is not None else 408
        if resp is not None and 200 <= status < 300:
            num = parse_cseq(req.headers.get("CSeq") or "")[0]
            ack = self.dialog.ack(num).to_bytes()
            self._acks[num] = ack
            self._out.append(ack)
            self.dialog.refresh_target(resp)
            self._arm_refresh(resp, now)
            if not self._settle(offer, resp.body, our_offer=True):
                self._events.append(ReinviteFailed(488, "unusable answer"))
            return
        if (
            resp is not None
            and status in (401, 407)
            and not challenges
            and self._take_challenge(resp)
        ):
            self._send_reinvite(offer, now, challenges + 1)
            return
        if status == 491:  # glare (§14.1): the Call-ID owner waits 2.1-4 s, the other 0-2 s
            low, high = (2.1, 4.0) if self._owns_call_id else (0.0, 2.0)
            self._timers["reinvite_retry"] = now + low + (high - low) * self.rng.random()
            return
        if status in (408, 481) and self.state is C.CONFIRMED:
            self._go("dialog_lost")
            self._end("dialog-lost")
            self._send_bye(now)
            return
        self._want = "sendrecv" if self._want == "sendonly" else "sendonly"  # nothing changed
        self._events.append(ReinviteFailed(status, resp.reason if resp is not None else "timeout"))

    _owns_call_id = False

    def _on_final(self, purpose: str, req: Request, resp: Response | None, now: float) -> None:
        if purpose == "reinvite":
            self._on_reinvite_final(req, resp, now)
        else:
            super()._on_final(purpose, req, resp, now)

    def _on_reinvite_in(self, req: Request, now: float) -> None:
        assert self.dialog is not None
        stx = InviteServerTransaction(
            req, reliable=self.reliable, t1=self.t1, t2=self.t2, t4=self.t4
        )
        stx.start(now, trying=False)
        self._servers[stx.branch] = stx

        tag = self.dialog.local_tag

        def final(status: int, reason: str, **headers: str) -> None:
            resp = make_response(req, status, reason, tag=tag)
            for k, v in headers.items():
                resp.headers.add(k.replace("_", "-"), v)
            stx.respond(resp, now)
            self._out.extend(stx.data_to_send())

        if self.state is not C.CONFIRMED or self._pending is not None:
            final(500, "Server Internal Error", Retry_After=str(self.rng.randint(1, 10)))
            return
        if self._reinvite is not None:
            final(491, "Request Pending")
            return
        if bad := self._unsupported(req):
            final(420, "Bad Extension", Unsupported=", ".join(bad))
            return
        if self.local_sdp is None:
            final(488, "Not Acceptable Here")
            return
        body: bytes
        offer: SessionDescription | None = None
        changed = False
        if req.body:
            try:
                theirs = SessionDescription.parse(req.body)
                addr, port = self._media_address()
                current = self.negotiated.srtp if self.negotiated is not None else None
                mine, neg = answer(theirs, addr, port, self.codecs, previous=self.local_sdp,
                                   direction=self._want, encryption=self.media_encryption,
                                   keygen=self.keygen, previous_srtp=current)  # fmt: skip
            except (SdpError, NoCommonCodec):
                final(488, "Not Acceptable Here")
                return
            changed = neg != self.negotiated
            self.local_sdp, self.negotiated = mine, neg
            body = mine.to_bytes()
        else:
            offer = self.local_sdp  # no offer: ours is in the 200, the answer in the ACK
            body = offer.to_bytes()
        self.dialog.refresh_target(req)
        ok = make_response(req, 200, "OK", tag=self.dialog.local_tag, body=body)
        self._add_2xx_headers(ok)
        stx.respond(ok, now)
        self._out.extend(stx.data_to_send())
        num = parse_cseq(req.headers.get("CSeq") or "")[0]
        self._await_ack(ok, num, stx, now, offer)
        if changed:  # a session refresh with the same media tells nobody anything
            assert self.negotiated is not None
            self._events.append(MediaChanged(self.negotiated, req.body))

    def _media_address(self) -> tuple[str, int]:
        sd = self.local_sdp
        assert sd is not None
        for m in sd.media:
            conn = sd.media_connection(m)
            if m.media == "audio" and m.port != 0 and conn is not None:
                return conn.address, m.port
        raise NoCommonCodec("no audio stream of ours to answer with")
