"""Transactions of RFC 3261 §17: client non-INVITE (timers E, F, K) and INVITE (A, B, D);
server INVITE (G, H, I, and L of RFC 6026).

Sans-I/O: `start(now)`, `receive_response(resp, now)`, `handle_timer(now)` and
`transport_error(now)` feed the machine; `data_to_send()` drains bytes to (re)transmit,
`next_event()` drains what happened, `get_timer()` says when to call `handle_timer` next.
Every transition is in `_TABLE`; an event the table does not list for a state raises
StateError. Times are seconds on any monotonic clock the caller chooses.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import StateError
from .fields import parse_via
from .message import Headers, Request, Response, parse_message

__all__ = [
    "T1",
    "T2",
    "T4",
    "ClientTransaction",
    "Final",
    "InviteClientTransaction",
    "InviteServerTransaction",
    "Provisional",
    "Terminated",
    "Timeout",
    "TransportFailed",
    "TxState",
    "make_response",
]

T1 = 0.5
T2 = 4.0
T4 = 5.0


class TxState(StrEnum):
    """A StrEnum: hashed as its value, in C (an Enum member's hash is a Python call), for the
    table's lookups."""

    INITIAL = "initial"
    CALLING = "calling"  # INVITE only
    TRYING = "trying"  # non-INVITE only
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    ACCEPTED = "accepted"  # INVITE server, 2xx sent (RFC 6026)
    CONFIRMED = "confirmed"  # INVITE server, ACK for a non-2xx received
    TERMINATED = "terminated"


# The short name is for the table below. Methods spell the class out: compiled (telesip.native),
# an enum member named through its class is a C static; through an alias, a lookup on the class.
S = TxState
# (state, event) -> next state; the single source of truth for both kinds of transaction.
_TABLE: dict[tuple[TxState, str], TxState] = {
    (S.INITIAL, "start"): S.TRYING,
    (S.INITIAL, "start_invite"): S.CALLING,
    # non-INVITE, §17.1.2.2
    (S.TRYING, "1xx"): S.PROCEEDING,
    (S.TRYING, "final"): S.COMPLETED,
    (S.TRYING, "retransmit"): S.TRYING,
    (S.TRYING, "timeout"): S.TERMINATED,
    (S.TRYING, "transport_error"): S.TERMINATED,
    (S.PROCEEDING, "1xx"): S.PROCEEDING,
    (S.PROCEEDING, "final"): S.COMPLETED,
    (S.PROCEEDING, "retransmit"): S.PROCEEDING,
    (S.PROCEEDING, "timeout"): S.TERMINATED,
    (S.PROCEEDING, "transport_error"): S.TERMINATED,
    (S.COMPLETED, "final"): S.COMPLETED,  # retransmitted final: absorbed
    (S.COMPLETED, "1xx"): S.COMPLETED,
    (S.COMPLETED, "linger_over"): S.TERMINATED,
    (S.COMPLETED, "transport_error"): S.COMPLETED,
    # INVITE, §17.1.1.2
    (S.CALLING, "1xx"): S.PROCEEDING,
    (S.CALLING, "2xx"): S.TERMINATED,
    (S.CALLING, "final"): S.COMPLETED,
    (S.CALLING, "retransmit"): S.CALLING,
    (S.CALLING, "timeout"): S.TERMINATED,
    (S.CALLING, "transport_error"): S.TERMINATED,
    (S.PROCEEDING, "2xx"): S.TERMINATED,
    # INVITE server, §17.2.1 with RFC 6026 (the TU sends and retransmits 2xx in Accepted)
    (S.INITIAL, "start_server"): S.PROCEEDING,
    (S.PROCEEDING, "send_1xx"): S.PROCEEDING,
    (S.PROCEEDING, "send_2xx"): S.ACCEPTED,
    (S.PROCEEDING, "send_final"): S.COMPLETED,
    (S.PROCEEDING, "request_again"): S.PROCEEDING,  # the last provisional goes out again
    (S.PROCEEDING, "send_error"): S.TERMINATED,
    (S.ACCEPTED, "send_2xx"): S.ACCEPTED,  # the TU's retransmission of its 2xx
    (S.ACCEPTED, "request_again"): S.ACCEPTED,  # absorbed
    (S.ACCEPTED, "send_error"): S.ACCEPTED,
    (S.ACCEPTED, "linger_over"): S.TERMINATED,  # timer L
    (S.COMPLETED, "request_again"): S.COMPLETED,  # the final goes out again
    (S.COMPLETED, "retransmit"): S.COMPLETED,  # timer G
    (S.COMPLETED, "ack"): S.CONFIRMED,
    (S.COMPLETED, "timeout"): S.TERMINATED,  # timer H
    (S.COMPLETED, "send_error"): S.TERMINATED,
    (S.CONFIRMED, "ack"): S.CONFIRMED,
    (S.CONFIRMED, "request_again"): S.CONFIRMED,
    (S.CONFIRMED, "linger_over"): S.TERMINATED,  # timer I
}


@dataclass(frozen=True, slots=True)
class Provisional:
    response: Response


@dataclass(slots=True, init=False)
class Final:
    response: Response

    # written out (one per answer; compiled, a written __init__ is a C call, a generated one
    # runs in the interpreter), and so not frozen: nothing changes it once made
    def __init__(self, response: Response) -> None:
        self.response = response


@dataclass(frozen=True, slots=True)
class Timeout:
    """Timer F (non-INVITE) or B (INVITE) fired: no final response came; or timer H (INVITE
    server): no ACK came for our final response."""


@dataclass(frozen=True, slots=True)
class TransportFailed:
    pass


@dataclass(frozen=True, slots=True)
class Terminated:
    pass


TxEvent = Provisional | Final | Timeout | TransportFailed | Terminated


class _Transaction:
    """The plumbing every transaction shares: state table, timers, output queues."""

    __slots__ = (
        "_events", "_out", "_request", "_timers", "branch", "reliable", "state", "t1", "t2", "t4",
        "wire",
    )  # fmt: skip

    def __init__(
        self,
        request: Request | None,
        branch: str,
        *,
        reliable: bool,
        t1: float = T1,
        t2: float = T2,
        t4: float = T4,
        wire: bytes = b"",
    ) -> None:
        """`request`, or None with `wire`: a request already serialized (a registration's
        REGISTER), parsed from the bytes only if someone asks for `request`."""
        if request is not None:
            wire = request.to_bytes()
        self._setup(request, wire, branch, reliable, t1, t2, t4)

    def _setup(
        self,
        request: Request | None,
        wire: bytes,
        branch: str,
        reliable: bool,
        t1: float,
        t2: float,
        t4: float,
    ) -> None:
        self.t1, self.t2, self.t4 = t1, t2, t4
        self._request = request
        self.branch = branch
        self.reliable = reliable
        self.state = TxState.INITIAL
        self.wire = wire
        self._timers: dict[str, tuple[float, float]] = {}  # name -> (deadline, interval)
        self._out: list[bytes] = []
        self._events: list[TxEvent] = []  # one or two at a time: a deque's block costs more

    @property
    def request(self) -> Request:
        if self._request is None:
            req = parse_message(self.wire)
            assert isinstance(req, Request)
            self._request = req
        return self._request

    def _go(self, event: str, *emit: TxEvent) -> None:
        try:
            self.state = _TABLE[(self.state, event)]
        except KeyError:
            raise StateError(f"{type(self).__name__}: {event} in {self.state.value}") from None
        self._events.extend(emit)
        if self.state is TxState.TERMINATED:
            self._timers.clear()
            self._events.append(Terminated())

    def get_timer(self) -> float | None:
        first: float | None = None
        for deadline, _ in self._timers.values():
            if first is None or deadline < first:
                first = deadline
        return first

    def data_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def next_event(self) -> TxEvent | None:
        return self._events.pop(0) if self._events else None

    @property
    def terminated(self) -> bool:
        return self.state is TxState.TERMINATED

    def handle_timer(self, now: float) -> None:
        for name, (deadline, interval) in sorted(self._timers.items(), key=lambda kv: kv[1][0]):
            if deadline > now or name not in self._timers:
                continue
            self._fire(name, interval, now)

    def _fire(self, name: str, interval: float, now: float) -> None:
        raise NotImplementedError


class ClientTransaction(_Transaction):
    """Non-INVITE client transaction (§17.1.2): E retransmits, F times out, K lingers."""

    __slots__ = ()

    def start(self, now: float) -> None:
        self._go("start")
        self._out.append(self.wire)
        if not self.reliable:
            self._timers["E"] = (now + self.t1, self.t1)
        self._timers["F"] = (now + 64 * self.t1, 0.0)

    @staticmethod
    def started(
        wire: bytes,
        branch: str,
        reliable: bool,
        now: float,
        t1: float = T1,
        t2: float = T2,
        t4: float = T4,
    ) -> ClientTransaction:
        """A transaction for `wire`, started, its first transmission taken: the caller sends
        it (a registration makes one per REGISTER). A plain ClientTransaction made by a direct
        call (compiled, `cls(...)` is a generic call with keywords)."""
        tx = ClientTransaction(None, branch, reliable=reliable, t1=t1, t2=t2, t4=t4, wire=wire)
        tx.start(now)
        tx._out.pop()
        return tx

    def receive_response(self, resp: Response, now: float) -> None:
        if self.state is TxState.TERMINATED:
            return  # late response after the linger: nothing to do (§17.1.2.2)
        if resp.status < 200:
            self._go("1xx")
            if self.state is TxState.PROCEEDING:
                self._events.append(Provisional(resp))
            return
        first = self.state is not TxState.COMPLETED
        self._go("final")
        if first:
            self._timers.pop("E", None)
            self._timers.pop("F", None)
            self._events.append(Final(resp))
            self._arm_linger(now)

    def _arm_linger(self, now: float) -> None:
        if self.reliable:
            self._go("linger_over")
        else:
            self._timers["K"] = (now + self.t4, 0.0)

    def transport_error(self, now: float) -> None:
        if self.state is TxState.TERMINATED:
            return
        was = self.state
        self._go("transport_error", *([TransportFailed()] if was is not TxState.COMPLETED else []))

    def _fire(self, name: str, interval: float, now: float) -> None:
        if name == "E":
            self._go("retransmit")
            self._out.append(self.wire)
            nxt = self.t2 if self.state is TxState.PROCEEDING else min(2 * interval, self.t2)
            self._timers["E"] = (now + nxt, nxt)
        elif name == "F":
            self._go("timeout", Timeout())
        elif name == "K":
            self._go("linger_over")


class InviteClientTransaction(ClientTransaction):
    """INVITE client transaction (§17.1.1): A retransmits, B times out, D absorbs; ACKs non-2xx."""

    __slots__ = ()

    def start(self, now: float) -> None:
        self._go("start_invite")
        self._out.append(self.wire)
        if not self.reliable:
            self._timers["A"] = (now + self.t1, self.t1)
        self._timers["B"] = (now + 64 * self.t1, 0.0)

    def receive_response(self, resp: Response, now: float) -> None:
        if self.state is TxState.TERMINATED:
            return
        if resp.status < 200:
            self._go("1xx")
            self._timers.pop("A", None)
            self._timers.pop("B", None)  # B guards the Calling state only
            self._events.append(Provisional(resp))
            return
        if resp.status < 300:
            self._timers.clear()
            self._go("2xx", Final(resp))  # the ACK for a 2xx belongs to the dialog (TU), §13.2.2.4
            return
        first = self.state is not TxState.COMPLETED
        self._go("final")
        self._out.append(self.ack_for(resp).to_bytes())
        if first:
            self._timers.clear()
            self._events.append(Final(resp))
            if self.reliable:
                self._go("linger_over")
            else:
                self._timers["D"] = (now + max(32.0, 64 * self.t1), 0.0)

    def ack_for(self, resp: Response) -> Request:
        """The ACK for a non-2xx final response (§17.1.1.3)."""
        h = Headers()
        src = self.request.headers
        h.add("Via", src.get_all("Via")[0])
        for name in ("Route",):
            for v in src.get_all(name):
                h.add(name, v)
        h.add("Max-Forwards", "70")
        h.add("From", src.get("From") or "")
        h.add("To", resp.headers.get("To") or "")
        h.add("Call-ID", src.get("Call-ID") or "")
        num = (src.get("CSeq") or "0").split()[0]
        h.add("CSeq", f"{num} ACK")
        return Request("ACK", self.request.uri, h)

    def _fire(self, name: str, interval: float, now: float) -> None:
        if name == "A":
            self._go("retransmit")
            self._out.append(self.wire)
            self._timers["A"] = (now + 2 * interval, 2 * interval)
        elif name == "B":
            self._go("timeout", Timeout())
        elif name == "D":
            self._go("linger_over")


def make_response(
    request: Request, status: int, reason: str, *, tag: str | None = None, body: bytes = b""
) -> Response:
    """A response with the request's Via, From, To (plus `tag` when To has none), Call-ID,
    CSeq (§8.2.6.2); 100 Trying also echoes Timestamp and never gets a To tag."""
    src = request.headers
    h = Headers()
    for via in src.get_all("Via"):
        h.add("Via", via)
    h.add("From", src.get("From") or "")
    to = src.get("To") or ""
    if tag is not None and status != 100 and ";tag=" not in to.replace(" ", "").lower():
        to = f"{to};tag={tag}"
    h.add("To", to)
    h.add("Call-ID", src.get("Call-ID") or "")
    h.add("CSeq", src.get("CSeq") or "")
    if status == 100 and (ts := src.get("Timestamp")) is not None:
        h.add("Timestamp", ts)
    return Response(status, reason, h, body)


class InviteServerTransaction(_Transaction):
    """INVITE server transaction (§17.2.1, RFC 6026).

    `start(now)` sends 100 Trying. `respond(resp, now)` sends what the TU answers: provisional
    responses are repeated when the INVITE is; a 2xx moves to Accepted, where the TU itself
    retransmits it (through `respond`) until its ACK, and timer L (64*T1) ends the transaction;
    a 3xx-6xx is retransmitted by timer G (T1 doubling to T2, UDP only) until the ACK (fed to
    `receive_request`) or timer H (64*T1, event Timeout); timer I (T4, 0 on streams) absorbs
    ACK retransmissions.
    """

    __slots__ = ("_last",)

    def __init__(
        self,
        request: Request,
        *,
        reliable: bool,
        t1: float = T1,
        t2: float = T2,
        t4: float = T4,
    ) -> None:
        vias = request.headers.get_all("Via")
        branch = (parse_via(vias[0]).branch or "") if vias else ""
        super().__init__(request, branch, reliable=reliable, t1=t1, t2=t2, t4=t4)
        self._last: bytes | None = None

    def start(self, now: float, *, trying: bool = True) -> None:
        self._go("start_server")
        if trying:
            self._send(make_response(self.request, 100, "Trying").to_bytes())

    def _send(self, data: bytes) -> None:
        self._last = data
        self._out.append(data)

    def respond(self, resp: Response, now: float) -> None:
        if resp.status < 200:
            self._go("send_1xx")
            self._send(resp.to_bytes())
        elif resp.status < 300:
            self._go("send_2xx")
            self._send(resp.to_bytes())
            if "L" not in self._timers:
                self._timers["L"] = (now + 64 * self.t1, 0.0)
        else:
            self._go("send_final")
            self._send(resp.to_bytes())
            if not self.reliable:
                self._timers["G"] = (now + self.t1, self.t1)
            self._timers["H"] = (now + 64 * self.t1, 0.0)

    def receive_request(self, req: Request, now: float) -> None:
        """A retransmission of the INVITE, or the ACK for a non-2xx final response."""
        if self.state is TxState.TERMINATED:
            return
        if req.method == "ACK":
            if self.state in (TxState.COMPLETED, TxState.CONFIRMED):
                first = self.state is TxState.COMPLETED
                self._go("ack")
                if first:
                    self._timers.pop("G", None)
                    self._timers.pop("H", None)
                    if self.reliable:
                        self._go("linger_over")
                    else:
                        self._timers["I"] = (now + self.t4, 0.0)
            return  # an ACK in Proceeding/Accepted is not ours (the 2xx ACK goes to the TU)
        self._go("request_again")
        if self.state in (TxState.PROCEEDING, TxState.COMPLETED) and self._last is not None:
            self._out.append(self._last)

    def transport_error(self, now: float) -> None:
        if self.state is TxState.TERMINATED:
            return
        was = self.state
        self._go("send_error", *([TransportFailed()] if was is not TxState.ACCEPTED else []))

    def _fire(self, name: str, interval: float, now: float) -> None:
        if name == "G":
            self._go("retransmit")
            if self._last is not None:
                self._out.append(self._last)
            nxt = min(2 * interval, self.t2)
            self._timers["G"] = (now + nxt, nxt)
        elif name == "H":
            self._go("timeout", Timeout())
        elif name in ("I", "L"):
            self._go("linger_over")
