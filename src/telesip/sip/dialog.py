"""Dialogs (RFC 3261 §12): the state two user agents share for the life of a call.

A `Dialog` is made from the INVITE (we are the UAS) or from the INVITE and its 2xx (we are
the UAC). It builds the requests we send inside it (BYE, re-INVITE, INFO, ACK for a 2xx)
with the right From/To tags, CSeq, Request-URI and Route headers, loose or strict routing
(§12.2.1.1), and checks the requests the peer sends (481 for another dialog, 500 for a CSeq
lower than the last one, §12.2.2). Pure data and functions: no clock, no I/O.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import ParseError
from .fields import NameAddr, parse_cseq, parse_name_addr
from .message import Headers, Request, Response

Message = Request | Response

__all__ = ["DTMF_DIGITS", "Dialog", "dialog_id", "format_host", "parse_dtmf_info"]

DTMF_DIGITS = "0123456789*#ABCD"
_DTMF_EVENTS = {d: i for i, d in enumerate(DTMF_DIGITS[:10])} | {
    "*": 10, "#": 11, "A": 12, "B": 13, "C": 14, "D": 15,
}  # fmt: skip


def format_host(host: str) -> str:
    """An IPv6 literal goes into brackets in a Via or a URI."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _without_tag(value: str) -> str:
    na = parse_name_addr(value)
    params = {k: v for k, v in na.params.items() if k != "tag"}
    return str(NameAddr(na.uri, na.display, params))


def _tag(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return parse_name_addr(value).tag
    except ParseError:
        return None


def dialog_id(msg: Message) -> tuple[str, str | None, str | None]:
    """(Call-ID, local tag, remote tag) of a message we received (§12): in a request from
    the peer our tag is in To, in a response to our request it is in From."""
    call_id = msg.headers.get("Call-ID") or ""
    frm, to = _tag(msg.headers.get("From")), _tag(msg.headers.get("To"))
    return (call_id, to, frm) if isinstance(msg, Request) else (call_id, frm, to)


def _first_contact(msg: Message) -> str | None:
    try:
        contacts = msg.headers.get_all("Contact")
        return parse_name_addr(contacts[0]).uri if contacts else None
    except ParseError:
        return None


@dataclass(slots=True)
class Dialog:
    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str  # our name-addr (From of our requests) without its tag
    remote_uri: str
    remote_target: str  # the peer's Contact URI
    route_set: list[str]  # Route values in the order we send them
    local_seq: int
    remote_seq: int | None
    local_contact: str  # our Contact URI
    local_addr: tuple[str, int]  # for our Via
    transport: str = "UDP"
    secure: bool = False
    rng: random.Random = field(default_factory=random.Random, repr=False)
    user_agent: str = "telesip"

    @classmethod
    def from_invite(
        cls,
        invite: Request,
        *,
        local_tag: str,
        local_contact: str,
        local_addr: tuple[str, int],
        transport: str = "UDP",
        rng: random.Random | None = None,
        user_agent: str = "telesip",
    ) -> Dialog:
        """The UAS side: routes in Record-Route order, the target from the INVITE's Contact."""
        h = invite.headers
        remote_tag = _tag(h.get("From")) or ""
        target = _first_contact(invite) or invite.uri
        return cls(
            call_id=h.get("Call-ID") or "",
            local_tag=local_tag,
            remote_tag=remote_tag,
            local_uri=_without_tag(h.get("To") or ""),
            remote_uri=_without_tag(h.get("From") or ""),
            remote_target=target,
            route_set=list(h.get_all("Record-Route")),
            local_seq=0,
            remote_seq=parse_cseq(h.get("CSeq") or "")[0],
            local_contact=local_contact,
            local_addr=local_addr,
            transport=transport,
            secure=invite.uri.lower().startswith("sips:") and transport.upper() == "TLS",
            rng=rng or random.Random(),
            user_agent=user_agent,
        )

    @classmethod
    def from_response(
        cls,
        invite: Request,
        resp: Response,
        *,
        local_contact: str,
        local_addr: tuple[str, int],
        transport: str = "UDP",
        rng: random.Random | None = None,
        user_agent: str = "telesip",
    ) -> Dialog:
        """The UAC side, from a 2xx (or an 18x with a To tag): Record-Route reversed."""
        h = invite.headers
        try:
            routes = list(reversed(resp.headers.get_all("Record-Route")))
        except ParseError:
            routes = []
        return cls(
            call_id=h.get("Call-ID") or "",
            local_tag=_tag(h.get("From")) or "",
            remote_tag=_tag(resp.headers.get("To")) or "",
            local_uri=_without_tag(h.get("From") or ""),
            remote_uri=_without_tag(resp.headers.get("To") or h.get("To") or ""),
            remote_target=_first_contact(resp) or invite.uri,
            route_set=routes,
            local_seq=parse_cseq(h.get("CSeq") or "")[0],
            remote_seq=None,
            local_contact=local_contact,
            local_addr=local_addr,
            transport=transport,
            secure=invite.uri.lower().startswith("sips:") and transport.upper() == "TLS",
            rng=rng or random.Random(),
            user_agent=user_agent,
        )

    # -- routing
    def _strict(self) -> bool:
        return bool(self.route_set) and ";lr" not in self.route_set[0].lower()

    @property
    def next_hop(self) -> str:
        """The URI our requests go to first: the first route, else the remote target."""
        if self.route_set:
            return parse_name_addr(self.route_set[0]).uri
        return self.remote_target

    def new_branch(self) -> str:
        return f"z9hG4bK{self.rng.getrandbits(64):016x}"

    # -- requests we send
    def request(
        self,
        method: str,
        body: bytes = b"",
        content_type: str | None = None,
        *,
        cseq: int | None = None,
        branch: str | None = None,
        extra: Iterable[tuple[str, str]] = (),
    ) -> Request:
        """A new request in this dialog; CSeq goes up by one unless `cseq` is given (ACK)."""
        if cseq is None:
            self.local_seq += 1
            cseq = self.local_seq
        uri, routes = self.remote_target, list(self.route_set)
        if self._strict():
            uri = parse_name_addr(routes.pop(0)).uri
            routes.append(f"<{self.remote_target}>")
        h = Headers()
        host, port = self.local_addr
        h.add("Via", f"SIP/2.0/{self.transport} {format_host(host)}:{port};rport;branch="
              f"{branch or self.new_branch()}")  # fmt: skip
        h.add("Max-Forwards", "70")
        h.add("From", f"{self.local_uri};tag={self.local_tag}")
        h.add("To", f"{self.remote_uri};tag={self.remote_tag}")
        h.add("Call-ID", self.call_id)
        h.add("CSeq", f"{cseq} {method}")
        for route in routes:
            h.add("Route", route)
        if method in ("INVITE", "UPDATE"):
            h.add("Contact", f"<{self.local_contact}>")
        for name, value in extra:
            h.add(name, value)
        if method != "ACK":
            h.add("User-Agent", self.user_agent)
        if content_type is not None:
            h.add("Content-Type", content_type)
        return Request(method, uri, h, body)

    def ack(self, cseq: int, body: bytes = b"", content_type: str | None = None) -> Request:
        """The ACK for a 2xx: the INVITE's CSeq number, a new branch (§13.2.2.4)."""
        return self.request("ACK", body, content_type, cseq=cseq)

    def info_dtmf(self, digit: str, duration: int = 160) -> Request:
        """INFO with application/dtmf-relay, as Cisco and most PBXs read it."""
        if len(digit) != 1 or digit.upper() not in DTMF_DIGITS:
            raise ValueError(f"not a DTMF digit: {digit!r}")
        body = f"Signal={digit.upper()}\r\nDuration={duration}\r\n".encode()
        return self.request("INFO", body, "application/dtmf-relay")

    # -- requests we receive
    def matches(self, msg: Message) -> bool:
        call_id, local, remote = dialog_id(msg)
        return call_id == self.call_id and local == self.local_tag and remote == self.remote_tag

    def check(self, req: Request) -> int | None:
        """None when the request belongs here and is in order; else the status to answer
        (481 another dialog, 500 a CSeq lower than the last, §12.2.2). Updates remote CSeq."""
        if not self.matches(req):
            return 481
        try:
            num, _ = parse_cseq(req.headers.get("CSeq") or "")
        except ParseError:
            return 400
        if req.method in ("ACK", "CANCEL"):
            return None
        if self.remote_seq is not None and num < self.remote_seq:
            return 500
        self.remote_seq = num
        return None

    def refresh_target(self, msg: Message) -> None:
        """A target refresh (re-INVITE or its 2xx) may move the peer's Contact."""
        if (uri := _first_contact(msg)) is not None:
            self.remote_target = uri


def parse_dtmf_info(content_type: str | None, body: bytes) -> str | None:
    """The digit of an INFO body: application/dtmf-relay (`Signal=5`) or application/dtmf."""
    ctype = (content_type or "").partition(";")[0].strip().lower()
    text = body.decode("utf-8", "replace")
    if ctype == "application/dtmf-relay":
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key.strip().lower() == "signal":
                value = value.strip().upper()
                if value.isdigit() and 10 <= int(value) <= 15:  # event numbers for * # A-D
                    return next(d for d, n in _DTMF_EVENTS.items() if n == int(value))
                return value if len(value) == 1 and value in DTMF_DIGITS else None
        return None
    if ctype == "application/dtmf":
        value = text.strip().upper()
        if value.isdigit() and int(value) in _DTMF_EVENTS.values():
            return next(d for d, n in _DTMF_EVENTS.items() if n == int(value))
        return value if len(value) == 1 and value in DTMF_DIGITS else None
    return None
