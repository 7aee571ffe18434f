"""The offer/answer model of RFC 3264 for one audio stream, on top of `sdp.py`.

`make_offer`, `answer` (the first audio stream with a codec in common is taken, every other
stream is refused with port 0; nothing in common raises `NoCommonCodec`, which a UAS turns
into 488) and `accept_answer` (also for the SDP of a 183). Codecs are G.711 (PCMA 8, PCMU 0,
static), G.722 (9, static, `G722/8000`: its RTP clock is 8000 though it samples at 16 kHz,
RFC 3551), Opus (`opus/48000/2`, dynamic, 111 in our offers, RFC 7587) and `telephone-event`
(dynamic, events 0-16: 101 at 8000 Hz, and 110 at 48000 Hz beside Opus; an event's clock must
be its audio codec's), taken in the order of the account's setting. Which codecs a process
can run is the caller's business (it passes only those). Directions are mirrored (their
sendonly is our recvonly: we are held) and `c=0.0.0.0` is the old hold (RFC 3264 §8.4); o=
versions go up only when the body changes.

SRTP with SDES keys (RFC 4568), by the line's `encryption` (`MEDIA_ENCRYPTION`):
- ``off``: plain RTP/AVP; an RTP/SAVP stream is refused, a=crypto on RTP/AVP is ignored.
- ``optional``: our offers are RTP/AVP carrying a=crypto (best effort: a peer that knows SDES
  answers with a=crypto and media are encrypted, one that does not ignores it); we answer
  RTP/SAVP with SRTP, and RTP/AVP with SRTP when it carries a=crypto we take, else in clear.
- ``required``: our offers are RTP/SAVP (never plain RTP); an offer without a crypto line we
  take is refused (`NoCommonCodec`, 488).
Suites AES_CM_128_HMAC_SHA1_80 (preferred) and _32; a line with MKI, several keys, a key
lifetime under 2^31 packets or session parameters is not taken. Our keys come from `keygen`
(`secrets.token_bytes`); an answer keeps our key while the peer keeps its own (a session
refresh changes nothing) and takes a new one when the peer re-keys (a new a=crypto).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .errors import SipError
from .sdp import (
    DIRECTIONS,
    SRTP_SUITES,
    Attribute,
    Connection,
    CryptoAttribute,
    MediaDescription,
    Origin,
    RtpMap,
    SessionDescription,
    SrtpKey,
)

__all__ = [
    "DEFAULT_CODECS",
    "MEDIA_ENCRYPTION",
    "Keygen",
    "Negotiated",
    "NoCommonCodec",
    "Srtp",
    "accept_answer",
    "answer",
    "bump_version",
    "make_offer",
    "with_direction",
]

DEFAULT_CODECS = ("PCMA", "PCMU", "telephone-event")
# name -> (payload type in our offers, RTP clock, rtpmap channels, our fmtp)
_AUDIO_CODECS: dict[str, tuple[int, int, int | None, str | None]] = {
    "PCMU": (0, 8000, None, None),
    "PCMA": (8, 8000, None, None),
    "G722": (9, 8000, None, None),
    # we carry Opus at 48 kHz to Telegram (fullband welcome) and send mono (RFC 7587 §6.1)
    "OPUS": (111, 48000, 2, "maxplaybackrate=48000;sprop-maxcapturerate=48000;stereo=0;"
             "sprop-stereo=0;useinbandfec=0"),
}  # fmt: skip
_RTPMAP_NAME = {"OPUS": "opus"}  # as RFC 7587 writes it; the others upper-case
DTMF = "telephone-event"
DTMF_PT = 101
DTMF_PT_48K = 110  # telephone-event/48000, offered beside Opus
_PROTOS = ("RTP/AVP", "RTP/AVPF")
_SECURE_PROTOS = ("RTP/SAVP", "RTP/SAVPF")
MEDIA_ENCRYPTION = ("off", "optional", "required")
_SUITE_ORDER = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32")  # ours, best first
Keygen = Callable[[int], bytes]


class NoCommonCodec(SipError):
    """The offer has no audio stream with a codec we take: answer 488 Not Acceptable Here."""

    code = "sdp_no_common_codec"
    status = 488


@dataclass(frozen=True, slots=True)
class Srtp:
    """The SRTP of a stream: the suite, our key (we protect with it; it is in our SDP) and the
    peer's (we unprotect with it). The keys' repr shows no bytes."""

    suite: str
    local_key: SrtpKey
    remote_key: SrtpKey


@dataclass(frozen=True, slots=True)
class Negotiated:
    """What the media layer needs: the codec, where to send, and which way (ours)."""

    codec: str  # "PCMA" | "PCMU" | "G722" | "OPUS"
    payload_type: int
    clock_rate: int
    dtmf_pt: int | None
    remote_addr: str
    remote_port: int
    direction: str  # ours: sendrecv | sendonly (we hold) | recvonly (held) | inactive
    ptime: int = 20
    srtp: Srtp | None = None  # None: media in clear

    @property
    def sends(self) -> bool:
        return self.direction in ("sendrecv", "sendonly")

    @property
    def receives(self) -> bool:
        return self.direction in ("sendrecv", "recvonly")


_FLAGS = {"sendrecv": (True, True), "sendonly": (True, False), "recvonly": (False, True),
          "inactive": (False, False)}  # fmt: skip
_NAMES = {v: k for k, v in _FLAGS.items()}


def _mirror(direction: str) -> str:
    send, recv = _FLAGS[direction]
    return _NAMES[(recv, send)]


def _both(a: str, b: str) -> str:
    return _NAMES[(_FLAGS[a][0] and _FLAGS[b][0], _FLAGS[a][1] and _FLAGS[b][1])]


def _check_direction(direction: str) -> None:
    if direction not in _FLAGS:
        raise ValueError(f"direction must be one of {DIRECTIONS}")


def _check_encryption(encryption: str) -> None:
    if encryption not in MEDIA_ENCRYPTION:
        raise ValueError(f"encryption must be one of {MEDIA_ENCRYPTION}")


def _our_crypto(keygen: Keygen) -> list[Attribute]:
    """One a=crypto per suite we speak, best first, each with a fresh key of its own."""
    return [
        ("crypto", CryptoAttribute(tag, suite, SrtpKey(keygen(SRTP_SUITES[suite]))).sdp_value())
        for tag, suite in enumerate(_SUITE_ORDER, start=1)
    ]


def _take_crypto(m: MediaDescription) -> CryptoAttribute | None:
    """The offered crypto line we answer: the best suite we speak, the offer's order within it."""
    usable = [c for c in m.crypto() if c.unsupported is None]
    for suite in _SUITE_ORDER:
        for crypto in usable:
            if crypto.suite == suite:
                return crypto
    return None


def _stream_crypto(m: MediaDescription, encryption: str) -> tuple[bool, CryptoAttribute | None]:
    """Whether we can answer this stream under `encryption`, and with which of its crypto
    lines (None: in clear)."""
    if m.proto in _SECURE_PROTOS:
        if encryption == "off":
            return False, None
        crypto = _take_crypto(m)
        return crypto is not None, crypto
    if m.proto not in _PROTOS:
        return False, None
    crypto = _take_crypto(m) if encryption != "off" else None
    return crypto is not None or encryption != "required", crypto


def _rtpmap(pt: int, name: str, clock: int, channels: int | None) -> Attribute:
    key = name.upper()
    written = _RTPMAP_NAME.get(key, key) if key in _AUDIO_CODECS else name
    return ("rtpmap", f"{pt} {written}/{clock}" + (f"/{channels}" if channels else ""))


def _audio_formats(codecs: Sequence[str], dtmf_pt: int) -> tuple[tuple[str, ...], list[Attribute]]:
    fmts: list[str] = []
    attrs: list[Attribute] = []
    clocks: list[int] = []
    for name in dict.fromkeys(n.upper() for n in codecs):
        if name in _AUDIO_CODECS:
            pt, clock, channels, fmtp = _AUDIO_CODECS[name]
            fmts.append(str(pt))
            attrs.append(_rtpmap(pt, name, clock, channels))
            if fmtp:
                attrs.append(("fmtp", f"{pt} {fmtp}"))
            clocks += [clock] if clock not in clocks else []
    if not fmts:
        raise ValueError("codecs must name an audio codec (PCMA, PCMU, G722 or opus)")
    if any(name.lower() == DTMF for name in codecs):
        for clock in sorted(clocks):
            pt = dtmf_pt if clock == 8000 else DTMF_PT_48K
            fmts.append(str(pt))
            attrs += [("rtpmap", f"{pt} {DTMF}/{clock}"), ("fmtp", f"{pt} 0-16")]
    return tuple(fmts), attrs


def make_offer(
    addr: str,
    port: int,
    codecs: Sequence[str] = DEFAULT_CODECS,
    *,
    session_id: int,
    version: int = 0,
    direction: str = "sendrecv",
    ptime: int = 20,
    dtmf_pt: int = DTMF_PT,
    username: str = "telesip",
    encryption: str = "off",
    keygen: Keygen = secrets.token_bytes,
) -> SessionDescription:
    """One audio stream with our codecs in preference order;
    with `encryption` optional, RTP/AVP with a=crypto; required, RTP/SAVP with a=crypto."""
    _check_direction(direction)
    _check_encryption(encryption)
    fmts, attrs = _audio_formats(codecs, dtmf_pt)
    if encryption != "off":
        attrs += _our_crypto(keygen)
    attrs += [("ptime", str(ptime)), (direction, None)]
    conn = Connection.for_address(addr)
    proto = "RTP/SAVP" if encryption == "required" else "RTP/AVP"
    m = MediaDescription("audio", port, proto, fmts, None, tuple(attrs))
    origin = Origin(username, session_id, version, conn.addrtype, addr)
    return SessionDescription(origin, "telesip", conn, media=(m,))


def with_direction(sd: SessionDescription, direction: str) -> SessionDescription:
    """Our previous description offered again with another direction (hold / resume),
    its o= version one higher when anything changed (RFC 3264 §8)."""
    _check_direction(direction)
    media = tuple(
        replace(
            m, attributes=(*[a for a in m.attributes if a[0] not in DIRECTIONS], (direction, None))
        )
        if m.port != 0
        else m
        for m in sd.media
    )
    attrs = tuple(a for a in sd.attributes if a[0] not in DIRECTIONS)
    new = replace(sd, media=media, attributes=attrs)
    return bump_version(new, sd)


def bump_version(
    new: SessionDescription, previous: SessionDescription | None
) -> SessionDescription:
    """`new` under `previous`'s o= line: same version when nothing changed, else one more."""
    if previous is None:
        return new
    same = replace(new, origin=previous.origin)
    if same == previous:
        return previous
    o = previous.origin
    return replace(new, origin=replace(o, version=o.version + 1))


def _pick(m: MediaDescription, codecs: Sequence[str]) -> tuple[RtpMap, RtpMap | None] | None:
    maps = m.rtpmaps()
    ordered = [maps[int(f)] for f in m.formats if f.isdigit() and int(f) in maps]
    audio: RtpMap | None = None
    for name in codecs:
        key = name.upper()
        if key not in _AUDIO_CODECS:
            continue
        _, clock, channels, _ = _AUDIO_CODECS[key]
        audio = next(
            (r for r in ordered if r.encoding.upper() == key and r.clock_rate == clock
             and r.channels in (None, 1, channels)),
            None,
        )  # fmt: skip
        if audio is not None:
            break
    if audio is None:
        return None
    dtmf = None
    if any(c.lower() == DTMF for c in codecs):
        dtmf = next(
            (r for r in ordered if r.encoding.lower() == DTMF
             and r.clock_rate == audio.clock_rate),
            None,
        )  # fmt: skip
    return audio, dtmf


def _ptime(m: MediaDescription) -> int:
    ptime = m.ptime or 20
    if m.maxptime is not None and m.maxptime < ptime:
        ptime = m.maxptime
    return max(10, min(ptime, 60)) // 10 * 10  # frames of 10 ms (Opus: 10, 20, 40, 60)


def answer(
    offer: SessionDescription,
    addr: str,
    port: int,
    codecs: Sequence[str] = DEFAULT_CODECS,
    *,
    session_id: int = 0,
    version: int = 0,
    previous: SessionDescription | None = None,
    direction: str = "sendrecv",
    username: str = "telesip",
    encryption: str = "off",
    keygen: Keygen = secrets.token_bytes,
    previous_srtp: Srtp | None = None,
) -> tuple[SessionDescription, Negotiated]:
    """Our answer and what it settles. `direction` is what we want (sendonly while we hold
    the call); the answer mirrors the offer's (their sendonly is our recvonly). `previous`
    (our last description in this dialog) gives the o= line, its version bumped on change;
    `previous_srtp` (the SRTP in force) keeps our key while the peer keeps its own."""
    _check_direction(direction)
    _check_encryption(encryption)
    chosen: tuple[int, RtpMap, RtpMap | None, CryptoAttribute | None] | None = None
    refused_for_srtp = False
    for i, m in enumerate(offer.media):
        if m.media != "audio" or m.port == 0:
            continue
        conn = offer.media_connection(m)
        picked = _pick(m, codecs)
        if picked is None or conn is None:
            continue
        acceptable, crypto = _stream_crypto(m, encryption)
        if acceptable:
            chosen = (i, *picked, crypto)
            break
        refused_for_srtp = True
    if chosen is None:
        if refused_for_srtp:
            raise NoCommonCodec(f"no audio stream with SRTP as the line's setting ({encryption})"
                                " requires, or with a crypto suite we take")  # fmt: skip
        raise NoCommonCodec("no audio stream with a codec in common")
    index, audio, dtmf, offered_crypto = chosen
    m = offer.media[index]
    conn = offer.media_connection(m)
    assert conn is not None
    theirs = offer.media_direction(m)
    ours = _both(_mirror(theirs), direction)
    if conn.held:
        ours = _both(ours, "recvonly")  # RFC 3264 §8.4: send nothing to 0.0.0.0
    fmts = [str(audio.payload_type)]
    attrs: list[Attribute] = [
        _rtpmap(audio.payload_type, audio.encoding, audio.clock_rate, audio.channels)
    ]
    if (our_fmtp := _AUDIO_CODECS[audio.encoding.upper()][3]) is not None:
        attrs.append(("fmtp", f"{audio.payload_type} {our_fmtp}"))
    if dtmf is not None:
        fmts.append(str(dtmf.payload_type))
        attrs.append(("rtpmap", f"{dtmf.payload_type} {dtmf.encoding}/{dtmf.clock_rate}"))
        attrs.append(("fmtp", f"{dtmf.payload_type} {m.fmtp(dtmf.payload_type) or '0-16'}"))
    srtp: Srtp | None = None
    if (c := offered_crypto) is not None:
        key = SrtpKey(keygen(SRTP_SUITES[c.suite]))
        if (
            previous_srtp is not None
            and previous_srtp.suite == c.suite
            and previous_srtp.remote_key == c.key
        ):
            key = previous_srtp.local_key  # the peer kept its key: so do we (RFC 4568 §7.1.4)
        attrs.append(("crypto", CryptoAttribute(c.tag, c.suite, key).sdp_value()))
        srtp = Srtp(c.suite, key, c.key)
    ptime = _ptime(m)
    attrs += [("ptime", str(ptime)), (ours, None)]
    mine = Connection.for_address(addr)
    media = tuple(
        MediaDescription("audio", port, m.proto, tuple(fmts), None, tuple(attrs))
        if i == index else MediaDescription(o.media, 0, o.proto, o.formats)
        for i, o in enumerate(offer.media)
    )  # fmt: skip
    origin = Origin(username, session_id, version, mine.addrtype, addr)
    sd = bump_version(SessionDescription(origin, "telesip", mine, media=media), previous)
    host, _, _ = conn.address.partition("/")
    dtmf_pt = dtmf.payload_type if dtmf is not None else None
    neg = Negotiated(audio.encoding.upper(), audio.payload_type, audio.clock_rate, dtmf_pt,
                     host, m.port, ours, ptime, srtp)  # fmt: skip
    return sd, neg


def _answered_srtp(
    offered: MediaDescription, answered: MediaDescription
) -> tuple[bool, Srtp | None]:
    """Whether the answer's stream is usable for what we offered, and its SRTP: their crypto
    line must echo the tag and suite of one of ours (RFC 4568 §7.1.2)."""
    ours = {c.tag: c for c in offered.crypto()}
    if not ours:  # we offered no crypto: a=crypto in the answer means nothing to us
        return answered.proto in _PROTOS, None
    for crypto in answered.crypto():
        mine = ours.get(crypto.tag)
        if mine is not None and mine.suite == crypto.suite and crypto.unsupported is None:
            return True, Srtp(crypto.suite, mine.key, crypto.key)
    return offered.proto in _PROTOS and answered.proto in _PROTOS, None


def accept_answer(offer: SessionDescription, answer: SessionDescription) -> Negotiated:
    """What the answer to our offer settles (also for the SDP of a 183 Session Progress)."""
    ours = {
        r.encoding.upper() for m in offer.media for r in m.rtpmaps().values()
    }  # what we offered, by name
    for i, m in enumerate(answer.media):
        if i >= len(offer.media) or offer.media[i].media != "audio" or m.port == 0:
            continue
        conn = answer.media_connection(m)
        if m.media != "audio" or conn is None:
            continue
        codecs = [c for c in _AUDIO_CODECS if c in ours]
        maps = m.rtpmaps()
        listed = [
            maps[int(f)].encoding.upper() for f in m.formats if f.isdigit() and int(f) in maps
        ]
        prefer = [c for c in listed if c in codecs]  # the answerer's order wins
        if DTMF.upper() in ours:
            prefer.append(DTMF)
        picked = _pick(m, prefer)
        if picked is None:
            continue
        usable, srtp = _answered_srtp(offer.media[i], m)
        if not usable:
            continue
        audio, dtmf = picked
        direction = _mirror(answer.media_direction(m))
        if conn.held:
            direction = _both(direction, "recvonly")
        host = conn.address.partition("/")[0]
        dtmf_pt = dtmf.payload_type if dtmf is not None else None
        return Negotiated(audio.encoding.upper(), audio.payload_type, audio.clock_rate,
                          dtmf_pt, host, m.port, direction, _ptime(m), srtp)  # fmt: skip
    raise NoCommonCodec("the answer accepts no audio stream with a codec we offered")
