"""Registration of one account with its registrar (RFC 3261 §10), as a sans-I/O machine.

Feed it `start(now)`, `receive_response(resp, now)`, `handle_timer(now)`, `stop(now)`;
drain `data_to_send()` (bytes for the account's current target) and `next_event()`
(`StatusChanged`); ask `get_timer()` when to come back. It answers digest challenges
(reusing the nonce on refreshes), refreshes at `refresh_ratio` of the granted Expires (a new
binding's first refresh a random part of `first_refresh_spread` earlier),
follows 423 Min-Expires, honours Retry-After, backs off exponentially with jitter from the
injected random source, treats 401/403 after credentials as "auth failed" and retries those
only after `auth_retry`, and un-REGISTERs its own Contact on `stop`. Transitions: `_TABLE`.

Two vocabularies, both owned here (as h11 owns its states): `RegistrationPhase`, where the
machine is (one row of `_TABLE` each), and `BindingState`, what it reports in its
`RegistrationStatus`. A worker maps a `BindingState` to the account core's `RegState` once
per change (workers/registrar.py); nothing here knows the account core.
"""

from __future__ import annotations

import random
import re
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from .auth import DigestState, parse_challenge
from .errors import AuthError, ParseError, StateError
from .fields import parse_name_addr, parse_uint
from .message import Response
from .transaction import ClientTransaction, Final, Timeout, TransportFailed

__all__ = [
    "BindingState",
    "Registration",
    "RegistrationParams",
    "RegistrationPhase",
    "RegistrationPolicy",
    "RegistrationStatus",
    "StatusChanged",
    "escape_user",
]

_UNRESERVED = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()&=+$,;?/"
)


_ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS"


# the same set as _UNRESERVED, for one C-level check of a whole user part (issuperset walks the
# string a character object at a time; this runs twice per REGISTER built)
_PLAIN_USER = re.compile(r"[A-Za-z0-9\-_.!~*'()&=+$,;?/]*")


def escape_user(user: str) -> str:
    """The user part of a SIP URI, %-escaped where RFC 3261 §25.1 requires."""
    if _PLAIN_USER.fullmatch(user) is not None:
        return user
    return "".join(
        c if c in _UNRESERVED else "".join(f"%{b:02X}" for b in c.encode()) for c in user
    )


class RegistrationParams(NamedTuple):
    """What one account registers with. A named tuple: one is made per registration started
    (made in C, where a frozen dataclass sets each of its fields through a Python call)."""

    user: str
    domain: str
    password: str
    registrar_uri: str  # Request-URI, e.g. "sip:pbx.example.com:5080;transport=tcp"
    transport: str = "UDP"  # Via transport: UDP, TCP or TLS
    auth_username: str | None = None
    expires: int = 3600
    display_name: str | None = None
    route: str | None = None  # outbound proxy URI, sent as a loose Route
    user_agent: str = "telesip"
    nat_rewrite: bool = True  # re-REGISTER with received/rport as Contact when they differ

    def __repr__(self) -> str:  # the password stays out of it
        return f"RegistrationParams(user={self.user!r}, domain={self.domain!r}, ...)"


@dataclass(frozen=True, slots=True)
class RegistrationPolicy:
    refresh_ratio: float = 0.8
    # A new binding's first refresh comes at refresh_ratio x (1 - spread x u), u uniform in
    # [0, 1): accounts registered in one burst spread their refreshes over that window and keep
    # the spread (later refreshes come at refresh_ratio), so a fleet does not refresh as one burst.
    first_refresh_spread: float = 0.25
    retry_base: float = 30.0
    retry_max: float = 1800.0
    auth_retry: float = 3600.0  # after 401/403 with credentials: wait this long, then try again
    max_retry_after: float = 3600.0
    max_expires: int = 86400
    t1: float = 0.5  # RFC 3261 timers; tests shrink them to see timer F in seconds
    t2: float = 4.0
    t4: float = 5.0


class RegistrationPhase(StrEnum):
    """Where the machine is: the states of `_TABLE`. A StrEnum: hashed as its value, in C (an
    Enum member's hash is a Python call), for the table's lookups."""

    IDLE = "idle"
    REGISTERING = "registering"
    REGISTERED = "registered"
    REFRESHING = "refreshing"
    BACKOFF = "backoff"
    AUTH_FAILED = "auth_failed"
    UNREGISTERING = "unregistering"
    STOPPED = "stopped"


class BindingState(StrEnum):
    """What a registration reports of its binding (`RegistrationStatus.state`). A StrEnum:
    compared and hashed as its value, at C speed, on the registration path."""

    REGISTERING = "registering"  # a request is out, no outcome yet (or a re-REGISTER)
    REGISTERED = "registered"  # the registrar holds our Contact until `registered_until`
    AUTH_FAILED = "auth_failed"  # refused after our credentials (401/407 again, or 403)
    UNREACHABLE = "unreachable"  # no answer, a transport error, 408/503/504: retried
    FAILED = "failed"  # any other final refusal: retried after the backoff
    DISABLED = "disabled"  # stopped: our Contact is un-REGISTERed (or never was)


# Short names for the tables below. Methods spell the class out: compiled (telesip.native), an
# enum member named through its class is a C static; through an alias, a lookup on the class.
R = RegistrationPhase
B = BindingState
_TABLE: dict[tuple[RegistrationPhase, str], RegistrationPhase] = {
    (R.IDLE, "start"): R.REGISTERING,
    (R.IDLE, "stop"): R.STOPPED,
    (R.REGISTERING, "ok"): R.REGISTERED,
    (R.REGISTERING, "resend"): R.REGISTERING,  # challenge, 423, NAT rebind
    (R.REGISTERING, "auth_rejected"): R.AUTH_FAILED,
    (R.REGISTERING, "failure"): R.BACKOFF,
    (R.REGISTERING, "stop"): R.UNREGISTERING,
    (R.REGISTERED, "refresh_due"): R.REFRESHING,
    (R.REGISTERED, "stop"): R.UNREGISTERING,
    (R.REFRESHING, "ok"): R.REGISTERED,
    (R.REFRESHING, "resend"): R.REFRESHING,
    (R.REFRESHING, "auth_rejected"): R.AUTH_FAILED,
    (R.REFRESHING, "failure"): R.BACKOFF,
    (R.REFRESHING, "stop"): R.UNREGISTERING,
    (R.BACKOFF, "retry_due"): R.REGISTERING,
    (R.BACKOFF, "stop"): R.UNREGISTERING,  # the binding may still be live
    (R.BACKOFF, "stop_unbound"): R.STOPPED,
    (R.AUTH_FAILED, "retry_due"): R.REGISTERING,
    (R.AUTH_FAILED, "stop"): R.STOPPED,
    (R.UNREGISTERING, "ok"): R.STOPPED,
    (R.UNREGISTERING, "resend"): R.UNREGISTERING,
    (R.UNREGISTERING, "auth_rejected"): R.STOPPED,
    (R.UNREGISTERING, "failure"): R.STOPPED,
}


class RegistrationStatus:
    """Public view; times are on the caller's monotonic clock. Immutable by convention (one is
    shared). A plain class with a written `__init__`: one is made per answer on the
    registration path, and compiled (telesip.native) that is a C call, where a named tuple's
    `__new__` runs in the interpreter."""

    __slots__ = ("code", "last_error", "next_retry_at", "registered_until", "state")

    def __init__(
        self,
        state: BindingState,
        code: int | None = None,
        last_error: str | None = None,
        registered_until: float | None = None,
        next_retry_at: float | None = None,
    ) -> None:
        self.state = state
        self.code = code
        self.last_error = last_error
        self.registered_until = registered_until
        self.next_retry_at = next_retry_at

    def _key(self) -> tuple[str, int | None, str | None, float | None, float | None]:
        return (self.state, self.code, self.last_error, self.registered_until, self.next_retry_at)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RegistrationStatus):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"RegistrationStatus(state={self.state!r}, code={self.code!r}, "
            f"last_error={self.last_error!r}, registered_until={self.registered_until!r}, "
            f"next_retry_at={self.next_retry_at!r})"
        )


_REGISTERING = RegistrationStatus(BindingState.REGISTERING)


class StatusChanged:
    """A registration's status changed (`Registration.events`)."""

    __slots__ = ("status",)

    def __init__(self, status: RegistrationStatus) -> None:
        self.status = status

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StatusChanged):
            return NotImplemented
        return self.status == other.status

    def __hash__(self) -> int:
        return hash(self.status)

    def __repr__(self) -> str:
        return f"StatusChanged(status={self.status!r})"


def _plain_expires(value: str, mine: str) -> int | None:
    """The expires of a Contact value that is exactly `<mine>;expires=N` (ASCII, any case),
    as the general path (split, name-addr, parameters) would read it; None otherwise."""
    if not value.isascii() or "," in value or '"' in value:
        return None
    prefix = f"<{mine}>;expires="
    if not value.startswith(prefix):  # a registrar usually echoes our spelling
        value, prefix = value.lower(), prefix.lower()
        if not value.startswith(prefix):
            return None
    digits = value[len(prefix) :]
    if not digits.isdigit() or len(digits) > 12 or int(digits) > 2**32 - 1:
        return None
    return int(digits)


class Registration:
    """One account's binding at one registrar."""

    __slots__ = (
        "_branch", "_challenges", "_events", "_failures", "_out", "_stale_contact", "_status",
        "_timer", "_tpl", "_uri", "call_id", "contact", "cseq", "digest", "expires", "from_tag",
        "local", "params", "policy", "reliable", "rng", "seen", "state", "tx",
    )  # fmt: skip

    def __init__(
        self,
        params: RegistrationParams,
        *,
        local: tuple[str, int],
        rng: random.Random,
        reliable: bool,
        policy: RegistrationPolicy | None = None,
        call_id: str | None = None,
        cseq: int = 0,
    ) -> None:
        self.params = params
        self.policy = policy or RegistrationPolicy()
        self.rng = rng
        self.reliable = reliable
        self.local = local
        self.contact = local  # where the registrar should send requests (NAT-rewritten)
        self.seen: tuple[str, int] | None = None  # our address as the registrar saw it (Via)
        self.call_id = call_id or f"{rng.getrandbits(96):024x}@telesip"
        self.from_tag = f"{rng.getrandbits(48):012x}"
        # Our branches: this, then the CSeq number (unique across space and time, RFC 3261
        # §8.1.1.7: 64 random bits per registration, a new number per request)
        self._branch = f"z9hG4bK{rng.getrandbits(64):016x}x"
        self.cseq = cseq
        self.expires = params.expires
        self.state = RegistrationPhase.IDLE
        self.tx: ClientTransaction | None = None
        self.digest = DigestState(params.auth_username or params.user, params.password)
        self._challenges = 0  # challenges answered in the current attempt
        self._failures = 0
        self._timer: float | None = None  # refresh or retry deadline
        self._status = _REGISTERING  # shared: a status is immutable
        self._out: list[bytes] = []
        self._events: list[StatusChanged] = []  # a list: an empty deque costs 760 bytes
        self._stale_contact: tuple[str, int] | None = None
        self._uri: tuple[tuple[str, int], str] | None = None  # the last Contact URI made
        self._tpl: tuple[tuple[str, int], str, str, str, str] | None = None  # see _template

    # -- outputs
    def data_to_send(self) -> list[bytes]:
        out = self._out
        if out:
            self._out = []
        return out  # when empty, the (empty) queue itself: no list made per step

    def next_event(self) -> StatusChanged | None:
        return self._events.pop(0) if self._events else None

    def events(self) -> list[StatusChanged]:
        """Every event not drained yet, oldest first (next_event, all at once)."""
        events = self._events
        if events:
            self._events = []
        return events  # when empty, the (empty) queue itself, as data_to_send

    def get_timer(self) -> float | None:
        t = self.tx.get_timer() if self.tx is not None else None
        if self._timer is not None and (t is None or self._timer < t):
            return self._timer
        return t

    @property
    def status(self) -> RegistrationStatus:
        return self._status

    @property
    def done(self) -> bool:
        return self.state is RegistrationPhase.STOPPED

    @property
    def challenged(self) -> bool:
        """A challenge was answered in the current attempt (its digest state is fresh)."""
        return self._challenges > 0

    # -- inputs
    def start(self, now: float) -> None:
        self._go("start")
        self._send(now)

    def stop(self, now: float) -> None:
        """Un-REGISTER our Contact (if a binding may exist), then report "disabled"."""
        if self.state in (RegistrationPhase.UNREGISTERING, RegistrationPhase.STOPPED):
            return
        bound = self.state in (
            RegistrationPhase.REGISTERING,
            RegistrationPhase.REGISTERED,
            RegistrationPhase.REFRESHING,
        ) or (
            self.state is RegistrationPhase.BACKOFF and (self._status.registered_until or 0) > now
        )
        new = self._go(
            "stop" if bound or self.state is not RegistrationPhase.BACKOFF else "stop_unbound"
        )
        if new is RegistrationPhase.UNREGISTERING:
            self._timer = None
            self._challenges = 0
            self._send(now, expires=0)
        else:
            self._finish_stop()

    def refresh_soon(self, when: float) -> None:
        """Bring the next refresh forward (the connection that carried the binding is gone)."""
        if self.state is RegistrationPhase.REGISTERED and (
            self._timer is None or self._timer > when
        ):
            self._timer = when

    def set_local(self, local: tuple[str, int], now: float | None = None) -> None:
        """The transport's local address changed (a new TCP/TLS connection). With `now`, a
        request in flight is rebuilt for the new flow; a binding to the old Contact is removed
        by the next REGISTER."""
        if local == self.local:
            return
        if self.contact == self.local:
            if (
                self.state in (RegistrationPhase.REGISTERED, RegistrationPhase.REFRESHING)
                and self._stale_contact is None
            ):
                self._stale_contact = self.contact
            self.contact = local
        self.local = local
        if now is not None and self.tx is not None:
            self._send(now, expires=0 if self.state is RegistrationPhase.UNREGISTERING else None)

    def transport_error(self, now: float) -> None:
        if self.tx is not None:
            self.tx.transport_error(now)
            self._drain_tx(now)

    def receive_response(self, resp: Response, now: float) -> bool:
        """Feed a response; False when it is not for our current transaction."""
        tx = self.tx
        via = resp.via()
        if tx is None or via is None or via.params.get("branch") != tx.branch:
            return False
        tx.receive_response(resp, now)
        self._drain_tx(now)
        return True

    def handle_timer(self, now: float) -> None:
        if self.tx is not None:
            self.tx.handle_timer(now)
            self._out.extend(self.tx.data_to_send())
            self._drain_tx(now)
        if self._timer is not None and self._timer <= now:
            self._timer = None
            if self.state is RegistrationPhase.REGISTERED:
                self._go("refresh_due")
            else:
                self._go("retry_due")
            self._challenges = 0
            self._send(now)

    # -- internals
    def _go(self, event: str) -> RegistrationPhase:
        try:
            self.state = _TABLE[(self.state, event)]
        except KeyError:
            raise StateError(f"registration: {event} in {self.state.value}") from None
        return self.state

    def _publish(self, status: RegistrationStatus) -> None:
        if status != self._status:
            self._status = status
            self._events.append(StatusChanged(status))

    def _finish_stop(self) -> None:
        self.tx = None
        self._timer = None
        self._publish(RegistrationStatus(BindingState.DISABLED))

    def _send(self, now: float, *, expires: int | None = None) -> None:
        """Build the next REGISTER straight into bytes: the header order and spelling of
        `Request.to_bytes` (tests/sip/test_fast_paths.py compares the two). What does not change
        from one REGISTER to the next is formatted once (`_template`); the branch, CSeq, Contact,
        Expires and credentials are filled in."""
        self.cseq += 1
        branch = f"{self._branch}{self.cseq}"
        exp = self.expires if expires is None else expires
        tpl = self._tpl
        if tpl is None or tpl[0] != self.local:
            tpl = self._tpl = self._template()
        if exp == 0:
            contact = f"<{self._contact_uri(self.contact)}>;expires=0"
        elif self._stale_contact is None:
            contact = f"<{self._contact_uri(self.contact)}>"
        else:
            contact = (
                f"<{self._contact_uri(self.contact)}>, "
                f"<{self._contact_uri(self._stale_contact)}>;expires=0"
            )
        auth = None
        if self.digest.challenge is not None:  # a fresh cnonce per request (RFC 7616 §3.4)
            cnonce = f"{self.rng.getrandbits(64):016x}"
            auth = self.digest.authorize("REGISTER", self.params.registrar_uri, cnonce)
        credentials = f"{auth[0]}: {auth[1]}\r\n" if auth is not None else ""
        wire = (
            f"{tpl[1]}{branch}{tpl[2]}{self.cseq}{tpl[3]}{contact}\r\nExpires: {exp}{tpl[4]}"
            f"{credentials}Content-Length: 0\r\n\r\n"
        ).encode()
        pol = self.policy
        self.tx = ClientTransaction.started(
            wire, branch, self.reliable, now, pol.t1, pol.t2, pol.t4
        )
        self._out.append(wire)

    def _template(self) -> tuple[tuple[str, int], str, str, str, str]:
        """The fixed parts of our REGISTER for the current local address: before the branch,
        between the branch and the CSeq number, up to the Contact value, and from the Expires
        value to the credentials."""
        p = self.params
        aor = f"sip:{escape_user(p.user)}@{p.domain}"
        host, port = self.local
        disp = f'"{p.display_name}" ' if p.display_name else ""
        route = f"Route: <{p.route};lr>\r\n" if p.route else ""
        # the first, third and fourth parts are the same for every account at one registrar:
        # interned, they are kept once, not per account
        return (
            self.local,
            sys.intern(
                f"REGISTER {p.registrar_uri} SIP/2.0\r\n"
                f"Via: SIP/2.0/{p.transport} {host}:{port};rport;branch="
            ),
            f"\r\nMax-Forwards: 70\r\n"
            f"From: {disp}<{aor}>;tag={self.from_tag}\r\n"
            f"To: <{aor}>\r\n"
            f"Call-ID: {self.call_id}\r\n"
            f"CSeq: ",
            sys.intern(f" REGISTER\r\n{route}Contact: "),
            sys.intern(f"\r\nAllow: {_ALLOW}\r\nUser-Agent: {p.user_agent}\r\n"),
        )

    def _contact_uri(self, addr: tuple[str, int]) -> str:
        cached = self._uri
        if cached is not None and cached[0] == addr:
            return cached[1]
        t = self.params.transport.lower()
        suffix = "" if t == "udp" else f";transport={t}"
        uri = f"sip:{escape_user(self.params.user)}@{addr[0]}:{addr[1]}{suffix}"
        self._uri = (addr, uri)
        return uri

    def _drain_tx(self, now: float) -> None:
        tx = self.tx
        if tx is None:
            return
        while (ev := tx.next_event()) is not None:
            if isinstance(ev, Final):
                self.tx = None  # retransmitted finals are strays now: no timer K per account
                self._on_final(ev.response, now)
            elif isinstance(ev, Timeout):
                self._fail(now, BindingState.UNREACHABLE, None, "no response (timeout)")
            elif isinstance(ev, TransportFailed):
                self._fail(now, BindingState.UNREACHABLE, None, "transport error")
            if self.tx is not tx:
                return
        if tx.terminated and self.tx is tx:
            self.tx = None

    def _on_final(self, resp: Response, now: float) -> None:
        code = resp.status
        if 200 <= code < 300:
            self._on_ok(resp, now)
        elif code in (401, 407):
            self._on_challenge(resp, now)
        elif code == 403:
            self._auth_rejected(now, code, resp.reason)
        elif code == 423:
            self._on_brief(resp, now)
        else:
            retry_after = None
            if (ra := resp.headers.get("Retry-After")) is not None:
                retry_after = float(parse_uint(ra.partition("(")[0].partition(";")[0], "RA"))
            kind = BindingState.UNREACHABLE if code in (408, 503, 504) else BindingState.FAILED
            self._fail(now, kind, code, f"{code} {resp.reason}".strip(), retry_after)

    def _on_ok(self, resp: Response, now: float) -> None:
        if self.state is RegistrationPhase.UNREGISTERING:
            self._go("ok")
            self._finish_stop()
            return
        granted = self._granted(resp)
        via = resp.via()
        assert via is not None  # receive_response matched it
        received = via.params.get("received")
        if received is not None:
            rport = via.params.get("rport")  # Via.rport, without a property call
            seen = (received, int(rport) if rport and rport.isdigit() else self.contact[1])
            if seen != self.seen:
                self.seen = seen  # else the one already kept: a tuple per account, not per answer
            if self.params.nat_rewrite and seen != self.contact and not self.reliable:
                self._stale_contact = self.contact
                self.contact = seen
                self._go("resend")
                self._send(now)
                return
        self._stale_contact = None
        ratio = self.policy.refresh_ratio
        if (
            self.state is RegistrationPhase.REGISTERING
        ):  # a new binding (not a refresh): spread its refreshes
            ratio *= 1.0 - self.policy.first_refresh_spread * self.rng.random()
        self._go("ok")
        self._failures = 0
        self._timer = now + max(1.0, granted * ratio)
        self._publish(
            RegistrationStatus(
                BindingState.REGISTERED, code=resp.status, registered_until=now + granted
            )
        )

    def _granted(self, resp: Response) -> int:
        """Seconds the registrar granted our Contact; a malformed Contact is not fatal."""
        mine = self._contact_uri(self.contact)
        granted = self.expires
        expires: str | None = None
        contact = ""
        lines = 0
        for k, _, v in resp.headers._items:  # one pass: the Expires and the Contact lines
            if k == "contact":
                contact = v
                lines += 1
            elif k == "expires" and expires is None:
                expires = v
        if expires is not None:
            granted = parse_uint(expires, "Expires")  # validated by the parser
        if lines == 1 and (fast := _plain_expires(contact, mine)) is not None:
            return min(fast, self.policy.max_expires)  # the usual answer: only our Contact
        mine = mine.lower()
        try:
            contacts = resp.headers.get_all("Contact")
        except ParseError:
            contacts = []
        for value in contacts:
            try:
                na = parse_name_addr(value)
                if na.uri.lower() == mine and na.params.get("expires"):
                    granted = parse_uint(na.params["expires"] or "", "expires")
                    break
            except ParseError:
                continue
        return min(granted, self.policy.max_expires)

    def _on_challenge(self, resp: Response, now: float) -> None:
        name = "Proxy-Authenticate" if resp.status == 407 else "WWW-Authenticate"
        challenge = None
        for value in resp.headers.get_all(name):
            try:
                challenge = parse_challenge(value, proxy=resp.status == 407)
                break
            except AuthError:
                continue
        if challenge is None:
            self._fail(
                now, BindingState.FAILED, resp.status, f"{resp.status}: no usable digest challenge"
            )
            return
        self._challenges += 1
        if (self._challenges > 1 and not challenge.stale) or self._challenges > 3:
            self._auth_rejected(now, resp.status, resp.reason)
            return
        self.digest.set_challenge(challenge)
        self._go("resend")
        self._send(now, expires=0 if self.state is RegistrationPhase.UNREGISTERING else None)

    def _on_brief(self, resp: Response, now: float) -> None:
        raw = resp.headers.get("Min-Expires")
        wanted = parse_uint(raw, "Min-Expires") if raw is not None else 0
        if (
            self.state is RegistrationPhase.UNREGISTERING
            or not self.expires < wanted <= self.policy.max_expires
        ):
            self._fail(
                now, BindingState.FAILED, 423, "423 Interval Too Brief without a usable Min-Expires"
            )
            return
        self.expires = wanted
        self._go("resend")
        self._send(now)

    def _auth_rejected(self, now: float, code: int, reason: str) -> None:
        new = self._go("auth_rejected")
        self.tx = None
        if new is RegistrationPhase.STOPPED:
            self._finish_stop()
            return
        self.digest.challenge = None
        delay = self.policy.auth_retry * (0.75 + 0.5 * self.rng.random())
        self._timer = now + delay
        self._publish(
            RegistrationStatus(
                BindingState.AUTH_FAILED, code, f"{code} {reason}".strip(), None, self._timer
            )
        )

    def _fail(
        self,
        now: float,
        kind: BindingState,
        code: int | None,
        error: str,
        retry_after: float | None = None,
    ) -> None:
        new = self._go("failure")
        self.tx = None
        if new is RegistrationPhase.STOPPED:
            self._finish_stop()
            return
        pol = self.policy
        if retry_after is not None:
            delay = min(retry_after, pol.max_retry_after)
        else:
            delay = min(pol.retry_max, pol.retry_base * 2.0 ** min(self._failures, 30))
            delay *= 0.5 + 0.5 * self.rng.random()
        self._failures += 1
        until = self._status.registered_until
        if until is not None and until > now + 2 and retry_after is None:
            delay = min(delay, (until - now) / 2)  # keep the binding alive while we can
        self._timer = now + delay
        self._publish(RegistrationStatus(kind, code, error, until, self._timer))

    def __repr__(self) -> str:
        return f"<Registration {self.params.user}@{self.params.domain} {self.state.value}>"
