"""Client transactions of RFC 3261 §17.1: non-INVITE (timers E, F, K) and INVITE (A, B, D).

Sans-I/O: `start(now)`, `receive_response(resp, now)`, `handle_timer(now)` and
`transport_error(now)` feed the machine; `data_to_send()` drains bytes to (re)transmit,
`next_event()` drains what happened, `get_timer()` says when to call `handle_timer` next.
Every transition is in `_TABLE`; an event the table does not list for a state raises
StateError. Times are seconds on any monotonic clock the caller chooses.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from .errors import StateError
from .message import Headers, Request, Response

__all__ = [
    "T1",
    "T2",
    "T4",
    "ClientTransaction",
    "Final",
    "InviteClientTransaction",
    "Provisional",
    "Terminated",
    "Timeout",
    "TransportFailed",
    "TxState",
]

T1 = 0.5
T2 = 4.0
T4 = 5.0


class TxState(Enum):
    INITIAL = "initial"
    CALLING = "calling"  # INVITE only
    TRYING = "trying"  # non-INVITE only
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    TERMINATED = "terminated"


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
}


@dataclass(frozen=True, slots=True)
class Provisional:
    response: Response


@dataclass(frozen=True, slots=True)
class Final:
    response: Response


@dataclass(frozen=True, slots=True)
class Timeout:
    """Timer F (non-INVITE) or B (INVITE) fired: no final response came."""


@dataclass(frozen=True, slots=True)
class TransportFailed:
    pass


@dataclass(frozen=True, slots=True)
class Terminated:
    pass


TxEvent = Provisional | Final | Timeout | TransportFailed | Terminated


class ClientTransaction:
    """Non-INVITE client transaction (§17.1.2): E retransmits, F times out, K lingers."""

    __slots__ = (
        "_events", "_out", "_timers", "branch", "reliable", "request", "state", "t1", "t2", "t4",
        "wire",
    )  # fmt: skip

    def __init__(
        self,
        request: Request,
        branch: str,
        *,
        reliable: bool,
        t1: float = T1,
        t2: float = T2,
        t4: float = T4,
    ) -> None:
        self.t1, self.t2, self.t4 = t1, t2, t4
        self.request = request
        self.branch = branch
        self.reliable = reliable
        self.state = S.INITIAL
        self.wire = request.to_bytes()
        self._timers: dict[str, tuple[float, float]] = {}  # name -> (deadline, interval)
        self._out: list[bytes] = []
        self._events: deque[TxEvent] = deque()

    # -- plumbing
    def _go(self, event: str, *emit: TxEvent) -> None:
        try:
            self.state = _TABLE[(self.state, event)]
        except KeyError:
            raise StateError(f"{type(self).__name__}: {event} in {self.state.value}") from None
        self._events.extend(emit)
        if self.state is S.TERMINATED:
            self._timers.clear()
            self._events.append(Terminated())

    def get_timer(self) -> float | None:
        return min((d for d, _ in self._timers.values()), default=None)

    def data_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def next_event(self) -> TxEvent | None:
        return self._events.popleft() if self._events else None

    @property
    def terminated(self) -> bool:
        return self.state is S.TERMINATED

    # -- inputs
    def start(self, now: float) -> None:
        self._go("start")
        self._out.append(self.wire)
        if not self.reliable:
            self._timers["E"] = (now + self.t1, self.t1)
        self._timers["F"] = (now + 64 * self.t1, 0.0)

    def receive_response(self, resp: Response, now: float) -> None:
        if self.state is S.TERMINATED:
            return  # late response after the linger: nothing to do (§17.1.2.2)
        if resp.status < 200:
            self._go("1xx")
            if self.state is S.PROCEEDING:
                self._events.append(Provisional(resp))
            return
        first = self.state is not S.COMPLETED
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
        if self.state is S.TERMINATED:
            return
        was = self.state
        self._go("transport_error", *([TransportFailed()] if was is not S.COMPLETED else []))

    def handle_timer(self, now: float) -> None:
        for name, (deadline, interval) in sorted(self._timers.items(), key=lambda kv: kv[1][0]):
            if deadline > now or name not in self._timers:
                continue
            self._fire(name, interval, now)

    def _fire(self, name: str, interval: float, now: float) -> None:
        if name == "E":
            self._go("retransmit")
            self._out.append(self.wire)
            nxt = self.t2 if self.state is S.PROCEEDING else min(2 * interval, self.t2)
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
        if self.state is S.TERMINATED:
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
        first = self.state is not S.COMPLETED
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
