"""SDP session descriptions (RFC 4566 subset): parse, serialize, read.

`SessionDescription.parse(bytes)` / `.to_bytes()` keep every line they do not interpret
(i, u, e, p, b, r, z, k and unknown attributes), so a body round-trips. Structural lines
(v, o, c, m, t) are checked and raise `SdpError`; attributes are read leniently (a malformed
`a=ptime` is ignored, not fatal). The offer/answer rules are in `negotiation.py`.

`a=crypto` (SDES, RFC 4568 §9.1) is read by `CryptoAttribute.parse` and written by its
`sdp_value()`; the master key and salt it carries are an `SrtpKey`, whose repr and str never
show the bytes (they are secrets: logs, tracebacks and event reprs must not carry them).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import ParseError

__all__ = [
    "DIRECTIONS",
    "SRTP_SUITES",
    "Connection",
    "CryptoAttribute",
    "MediaDescription",
    "Origin",
    "RtpMap",
    "SdpError",
    "SessionDescription",
    "SrtpKey",
]

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
STATIC = {0: ("PCMU", 8000), 3: ("GSM", 8000), 4: ("G723", 8000), 8: ("PCMA", 8000),
          9: ("G722", 8000), 18: ("G729", 8000)}  # fmt: skip
_SESSION_ORDER = "vosiuepcbtzka"  # RFC 4566 §5 order ("r" lines live with their "t")
_MEDIA_ORDER = "micbka"
_ADDR = re.compile(r"[A-Za-z0-9.:\-_/%]+")


class SdpError(ParseError):
    """A body that is not usable SDP."""

    code = "sdp_parse_error"


@dataclass(frozen=True, slots=True)
class Origin:
    username: str
    session_id: int
    version: int
    addrtype: str  # IP4 | IP6
    address: str

    def __str__(self) -> str:
        return f"{self.username} {self.session_id} {self.version} IN {self.addrtype} {self.address}"


@dataclass(frozen=True, slots=True)
class Connection:
    addrtype: str  # IP4 | IP6
    address: str  # may carry a multicast /ttl suffix, kept as written

    def __str__(self) -> str:
        return f"IN {self.addrtype} {self.address}"

    @property
    def held(self) -> bool:
        """RFC 2543 hold: 0.0.0.0 means "send nothing here" (RFC 3264 §8.4)."""
        return self.address in ("0.0.0.0", "::")

    @classmethod
    def for_address(cls, address: str) -> Connection:
        return cls("IP6" if ":" in address else "IP4", address)


@dataclass(frozen=True, slots=True)
class RtpMap:
    payload_type: int
    encoding: str
    clock_rate: int
    channels: int | None = None


Attribute = tuple[str, str | None]


def _attr(attributes: Iterable[Attribute], name: str) -> str | None:
    return next((v for n, v in attributes if n == name), None)


def _direction(attributes: Iterable[Attribute]) -> str | None:
    return next((n for n, _ in attributes if n in DIRECTIONS), None)


def _int_attr(attributes: Iterable[Attribute], name: str) -> int | None:
    value = _attr(attributes, name)
    try:
        number = int(float(value.strip())) if value else 0
    except ValueError:
        return None
    return number if 0 < number <= 1000 else None


#: the SDES suites telesip speaks (RFC 4568 §6.2), with their master key + salt length in bytes;
#: both use AES-128 counter mode and a 14-byte salt, and differ in the RTP tag (80 or 32 bits)
SRTP_SUITES = {"AES_CM_128_HMAC_SHA1_80": 30, "AES_CM_128_HMAC_SHA1_32": 30}
#: a master key shorter-lived than this many packets would need re-keying inside the call
#: (about 1.4 years of 20 ms packets): offers asking for less are refused, not half-honoured
MIN_KEY_LIFETIME = 2**31


class SrtpKey:
    """An SRTP master key and salt (concatenated): `reveal()` gives the bytes; repr and str
    never do."""

    __slots__ = ("_material",)

    def __init__(self, material: bytes) -> None:
        self._material = bytes(material)

    def reveal(self) -> bytes:
        return self._material

    def __len__(self) -> int:
        return len(self._material)

    def __repr__(self) -> str:
        return f"SrtpKey(<{len(self._material)} bytes>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SrtpKey) and other._material == self._material

    def __hash__(self) -> int:
        return hash(self._material)


@dataclass(frozen=True, slots=True)
class CryptoAttribute:
    """One `a=crypto:<tag> <suite> inline:<key||salt>[|lifetime][|mki:len] [params]` line.

    `parse` checks the syntax of RFC 4568 §9.1 (SdpError when it is broken) and keeps what the
    line asks for; `unsupported` says why telesip cannot take it (None: it can)."""

    tag: int
    suite: str
    key: SrtpKey
    lifetime: int | None = None  # packets (the "2^n" form is read as its value)
    mki: tuple[int, int] | None = None  # (value, length in bytes)
    session_params: tuple[str, ...] = ()
    more_keys: int = 0  # further "inline:" keys after the first (several master keys)

    @classmethod
    def parse(cls, value: str) -> CryptoAttribute:
        parts = value.split()
        if len(parts) < 3 or not parts[0].isascii() or not parts[0].isdigit():
            raise SdpError("bad a=crypto line")
        if len(parts[0]) > 9:
            raise SdpError("a=crypto tag is longer than 9 digits")
        keys = parts[2].split(";")
        if not all(k.startswith("inline:") for k in keys):
            raise SdpError("a=crypto key method must be inline")
        fields = keys[0][len("inline:") :].split("|")
        if len(fields) > 3:
            raise SdpError("bad a=crypto key parameters")
        try:
            material = base64.b64decode(fields[0], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SdpError("a=crypto key is not base64") from exc
        expected = SRTP_SUITES.get(parts[1])
        if expected is not None and len(material) != expected:
            raise SdpError(f"a=crypto key for {parts[1]} must be {expected} bytes")
        lifetime: int | None = None
        mki: tuple[int, int] | None = None
        for extra in fields[1:]:
            if ":" in extra and mki is None:
                value_text, _, length_text = extra.partition(":")
                mki = (_number(value_text, "MKI", 2**128), _number(length_text, "MKI length", 128))
            elif lifetime is None and mki is None:
                power = extra.startswith("2^")
                number = _number(extra[2:] if power else extra, "key lifetime", 2**64)
                lifetime = 2**number if power and number <= 64 else number
                if power and number > 64:
                    raise SdpError("bad key lifetime")
            else:
                raise SdpError("bad a=crypto key parameters")
        return cls(int(parts[0]), parts[1], SrtpKey(material), lifetime, mki, tuple(parts[3:]),
                   len(keys) - 1)  # fmt: skip

    @property
    def unsupported(self) -> str | None:
        """Why telesip cannot use this line (None when it can)."""
        if self.suite not in SRTP_SUITES:
            return f"suite {self.suite}"
        if self.mki is not None or self.more_keys:
            return "MKI (several master keys)"
        if self.lifetime is not None and self.lifetime < MIN_KEY_LIFETIME:
            return "a key lifetime shorter than 2^31 packets"
        if self.session_params:
            return f"session parameters {' '.join(self.session_params)}"
        return None

    def sdp_value(self) -> str:
        """The attribute's value as it goes into SDP (it carries the key: never log it)."""
        text = f"{self.tag} {self.suite} inline:{base64.b64encode(self.key.reveal()).decode()}"
        if self.lifetime is not None:
            text += f"|{self.lifetime}"
        if self.mki is not None:
            text += f"|{self.mki[0]}:{self.mki[1]}"
        return " ".join((text, *self.session_params))


@dataclass(frozen=True, slots=True)
class MediaDescription:
    media: str  # audio | video | ...
    port: int
    proto: str
    formats: tuple[str, ...]
    connection: Connection | None = None
    attributes: tuple[Attribute, ...] = ()
    other: tuple[tuple[str, str], ...] = ()  # i, b, k lines as (letter, value)
    port_count: int | None = None

    def attribute(self, name: str) -> str | None:
        return _attr(self.attributes, name)

    @property
    def direction(self) -> str | None:
        return _direction(self.attributes)

    @property
    def ptime(self) -> int | None:
        return _int_attr(self.attributes, "ptime")

    @property
    def maxptime(self) -> int | None:
        return _int_attr(self.attributes, "maxptime")

    def crypto(self) -> list[CryptoAttribute]:
        """The stream's a=crypto lines in offer order; malformed ones are skipped."""
        out: list[CryptoAttribute] = []
        for name, value in self.attributes:
            if name == "crypto" and value:
                try:
                    out.append(CryptoAttribute.parse(value))
                except SdpError:
                    continue
        return out

    def rtpmaps(self) -> dict[int, RtpMap]:
        """Payload type -> mapping, static types filled in; malformed rtpmaps are skipped."""
        out: dict[int, RtpMap] = {}
        for fmt in self.formats:
            if fmt.isdigit() and int(fmt) in STATIC:
                name, rate = STATIC[int(fmt)]
                out[int(fmt)] = RtpMap(int(fmt), name, rate)
        for name, value in self.attributes:
            if name != "rtpmap" or not value:
                continue
            m = re.fullmatch(r"\s*(\d{1,3})\s+([^/\s]+)/(\d+)(?:/(\d+))?\s*", value)
            if m and m.group(1) in self.formats:
                pt = int(m.group(1))
                channels = int(m.group(4)) if m.group(4) else None
                out[pt] = RtpMap(pt, m.group(2), int(m.group(3)), channels)
        return out

    def fmtp(self, pt: int) -> str | None:
        for name, value in self.attributes:
            if name == "fmtp" and value:
                num, _, params = value.strip().partition(" ")
                if num == str(pt):
                    return params.strip()
        return None


@dataclass(frozen=True, slots=True)
class SessionDescription:
    origin: Origin
    name: str = "-"
    connection: Connection | None = None
    times: tuple[str, ...] = ("t=0 0",)  # raw t= and r= lines in order
    attributes: tuple[Attribute, ...] = ()
    other: tuple[tuple[str, str], ...] = ()  # i, u, e, p, b, z, k lines
    media: tuple[MediaDescription, ...] = ()

    @property
    def direction(self) -> str | None:
        return _direction(self.attributes)

    def media_direction(self, m: MediaDescription) -> str:
        """The direction in force for a stream: its own, else the session's, else sendrecv."""
        return m.direction or self.direction or "sendrecv"

    def media_connection(self, m: MediaDescription) -> Connection | None:
        return m.connection or self.connection

    @classmethod
    def parse(cls, data: bytes) -> SessionDescription:
        return _parse(data)

    def to_bytes(self) -> bytes:
        lines = [(k, v) for k, v in self.other]
        lines.append(("o", str(self.origin)))
        lines.append(("s", self.name))
        if self.connection is not None:
            lines.append(("c", str(self.connection)))
        lines.sort(key=lambda kv: _SESSION_ORDER.index(kv[0]))
        out = ["v=0"] + [f"{k}={v}" for k, v in lines if k in "osiuepcb"]
        out.extend(self.times)
        out += [f"{k}={v}" for k, v in lines if k in "zk"]
        out += [_attr_line(a) for a in self.attributes]
        for m in self.media:
            port = f"{m.port}/{m.port_count}" if m.port_count is not None else str(m.port)
            out.append(f"m={' '.join([m.media, port, m.proto, *m.formats])}")
            mlines = list(m.other)
            if m.connection is not None:
                mlines.append(("c", str(m.connection)))
            mlines.sort(key=lambda kv: _MEDIA_ORDER.index(kv[0]))
            out += [f"{k}={v}" for k, v in mlines]
            out += [_attr_line(a) for a in m.attributes]
        return ("\r\n".join(out) + "\r\n").encode()


def _attr_line(a: Attribute) -> str:
    return f"a={a[0]}" if a[1] is None else f"a={a[0]}:{a[1]}"


def _connection(value: str) -> Connection:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpError("bad c= line")
    if not _ADDR.fullmatch(parts[2]):
        raise SdpError("bad connection address")
    return Connection(parts[1], parts[2])


def _number(text: str, what: str, limit: int) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 20 or int(text) > limit:
        raise SdpError(f"bad {what}")
    return int(text)


def _parse(data: bytes) -> SessionDescription:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SdpError("SDP is not UTF-8") from exc
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    lines = [ln for ln in lines if ln.strip()]
    if not lines or lines[0].strip() != "v=0":
        raise SdpError("SDP must start with v=0")
    origin: Origin | None = None
    name = "-"
    session_conn: Connection | None = None
    times: list[str] = []
    attrs: list[Attribute] = []
    other: list[tuple[str, str]] = []
    media: list[MediaDescription] = []
    cur: _MediaBuilder | None = None

    for line in lines[1:]:
        if len(line) < 2 or line[1] != "=" or not "a" <= line[0] <= "z":
            raise SdpError("bad SDP line")
        key, value = line[0], line[2:]
        if key == "a":
            aname, colon, avalue = value.partition(":")
            if not aname or " " in aname:
                raise SdpError("bad attribute")
            attr: Attribute = (aname, avalue if colon else None)
            (attrs if cur is None else cur.attributes).append(attr)
        elif key == "m":
            if cur is not None:
                media.append(cur.build())
            cur = _media_line(value)
        elif cur is not None:
            if key == "c":
                if cur.connection is not None:
                    raise SdpError("two c= lines in one media description")
                cur.connection = _connection(value)
            elif key in "ibk":
                cur.other.append((key, value))
            else:
                raise SdpError(f"{key}= line inside a media description")
        elif key == "o":
            if origin is not None:
                raise SdpError("two o= lines")
            origin = _origin(value)
        elif key == "s":
            name = value
        elif key == "c":
            if session_conn is not None:
                raise SdpError("two session c= lines")
            session_conn = _connection(value)
        elif key == "t":
            parts = value.split()
            if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts):
                raise SdpError("bad t= line")
            times.append(f"t={value}")
        elif key == "r":
            if not times:
                raise SdpError("r= before t=")
            times.append(f"r={value}")
        elif key in "iuepbzk":
            other.append((key, value))
        elif key == "v":
            raise SdpError("two v= lines")
        # unknown letters are ignored (RFC 4566 §5: "parsers MUST ignore")
    if cur is not None:
        media.append(cur.build())
    if origin is None:
        raise SdpError("missing o= line")
    return SessionDescription(
        origin, name, session_conn, tuple(times) or ("t=0 0",), tuple(attrs), tuple(other),
        tuple(media),
    )  # fmt: skip


def _origin(value: str) -> Origin:
    parts = value.split()
    if len(parts) != 6 or parts[3] != "IN" or parts[4] not in ("IP4", "IP6"):
        raise SdpError("bad o= line")
    if not _ADDR.fullmatch(parts[5]):
        raise SdpError("bad origin address")
    limit = 2**64 - 1
    sid, ver = _number(parts[1], "session id", limit), _number(parts[2], "session version", limit)
    return Origin(parts[0], sid, ver, parts[4], parts[5])


@dataclass(slots=True)
class _MediaBuilder:
    media: str
    port: int
    port_count: int | None
    proto: str
    formats: tuple[str, ...]
    connection: Connection | None = None
    attributes: list[Attribute] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)

    def build(self) -> MediaDescription:
        attrs, other = tuple(self.attributes), tuple(self.other)
        return MediaDescription(
            self.media, self.port, self.proto, self.formats, self.connection, attrs, other,
            self.port_count,
        )  # fmt: skip


def _media_line(value: str) -> _MediaBuilder:
    parts = value.split()
    if len(parts) < 4:
        raise SdpError("bad m= line")
    port_text, slash, count = parts[1].partition("/")
    port = _number(port_text, "media port", 65535)
    port_count = _number(count, "port count", 65535) if slash else None
    return _MediaBuilder(parts[0], port, port_count, parts[2], tuple(parts[3:]))
