"""SDP parsing and RFC 3264 offer/answer against bodies in the shapes real PBXs and phones send."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telesip.sip.negotiation import (
    Negotiated,
    NoCommonCodec,
    accept_answer,
    answer,
    bump_version,
    make_offer,
    with_direction,
)
from telesip.sip.sdp import (
    Connection,
    MediaDescription,
    Origin,
    SdpError,
    SessionDescription,
)

DATA = Path(__file__).parent / "data" / "sdp"
ME = ("192.0.2.5", 20000)


def body(name: str) -> SessionDescription:
    return SessionDescription.parse((DATA / f"{name}.sdp").read_bytes())


def answer_to(
    name: str, codecs: tuple[str, ...] = ("PCMA", "PCMU", "telephone-event")
) -> tuple[SessionDescription, Negotiated]:
    return answer(body(name), *ME, codecs, session_id=77)


@pytest.mark.parametrize("path", sorted(DATA.glob("*.sdp")), ids=lambda p: p.stem)
def test_every_body_round_trips(path: Path) -> None:
    sd = SessionDescription.parse(path.read_bytes())
    again = SessionDescription.parse(sd.to_bytes())
    assert again == sd
    # LF-only line ends (seen from some softphones) read the same
    assert SessionDescription.parse(path.read_bytes().replace(b"\r\n", b"\n")) == sd


def test_asterisk_offer_answered_with_our_preference() -> None:
    sd, neg = answer_to("asterisk")
    assert neg == Negotiated("PCMA", 8, 8000, 101, "192.168.1.10", 12648, "sendrecv", 20)
    text = sd.to_bytes().decode()
    assert "m=audio 20000 RTP/AVP 8 101\r\n" in text
    assert "a=fmtp:101 0-16\r\n" in text and "a=sendrecv\r\n" in text
    assert "c=IN IP4 192.0.2.5\r\n" in text and "o=telesip 77 0 IN IP4 192.0.2.5\r\n" in text
    # PCMU first in the account setting: PCMU wins though Asterisk lists PCMA too
    _, neg = answer_to("asterisk", ("PCMU", "PCMA", "telephone-event"))
    assert (neg.codec, neg.payload_type) == ("PCMU", 0)


def test_freeswitch_dtmf_at_8000_is_picked_among_two_rates() -> None:
    sd, neg = answer_to("freeswitch")
    assert (neg.codec, neg.dtmf_pt, neg.remote_port) == ("PCMA", 101, 16384)
    assert sd.media[0].formats == ("8", "101")


def test_cucm_pcmu_only_with_its_own_event_range_echoed() -> None:
    sd, neg = answer_to("cisco_cucm")
    assert (neg.codec, neg.remote_addr, neg.dtmf_pt) == ("PCMU", "10.10.20.31", 101)
    assert sd.media[0].fmtp(101) == "0-15"
    assert body("cisco_cucm").other == (("b", "TIAS:64000"), ("b", "AS:64"))


def test_linphone_ipv6_video_refused_with_port_0() -> None:
    sd, neg = answer(body("linphone_ipv6"), "2001:db8::5", 20000, session_id=1)
    assert neg.remote_addr == "2001:db8::10" and neg.dtmf_pt == 100 and neg.codec == "PCMA"
    assert len(sd.media) == 2
    assert sd.media[1].port == 0 and sd.media[1].media == "video"
    assert sd.connection == Connection("IP6", "2001:db8::5")
    assert "c=IN IP6 2001:db8::5\r\n" in sd.to_bytes().decode()


def test_zoiper_without_ptime_gets_the_default() -> None:
    sd, neg = answer_to("zoiper")
    assert neg.ptime == 20 and neg.dtmf_pt == 101 and neg.codec == "PCMA"
    assert sd.media[0].ptime == 20


def test_grandstream_ptime_30_is_honoured() -> None:
    sd, neg = answer_to("grandstream")
    assert neg.ptime == 30 and sd.media[0].ptime == 30


def test_yealink_dtmf_fmtp_before_rtpmap() -> None:
    _, neg = answer_to("yealink")
    assert neg.dtmf_pt == 101 and neg.codec == "PCMA"


def test_teams_sbc_srtp_stream_refused_plain_rtp_stream_taken() -> None:
    sd, neg = answer_to("teams_sbc")
    assert [m.port for m in sd.media] == [0, 20000]
    assert sd.media[0].proto == "RTP/SAVP"
    assert (neg.remote_addr, neg.remote_port) == ("52.114.14.71", 49154)


@pytest.mark.parametrize(
    ("name", "ours", "line"),
    [
        ("asterisk_hold", "recvonly", "a=recvonly"),  # they hold us
        ("yealink_hold", "recvonly", "a=recvonly"),
        ("freeswitch_hold_zero", "recvonly", "a=recvonly"),  # RFC 2543 c=0.0.0.0
        ("cisco_cucm_inactive", "inactive", "a=inactive"),
        ("session_level_recvonly", "sendonly", "a=sendonly"),  # session-level attribute
    ],
)
def test_hold_directions_are_mirrored(name: str, ours: str, line: str) -> None:
    sd, neg = answer_to(name)
    assert neg.direction == ours
    assert f"{line}\r\n" in sd.to_bytes().decode()


def test_second_audio_stream_with_port_0_stays_refused() -> None:
    sd, neg = answer_to("session_level_recvonly")
    assert [m.port for m in sd.media] == [20000, 0]
    assert neg.dtmf_pt == 96


def test_no_common_codec() -> None:
    with pytest.raises(NoCommonCodec) as info:
        answer_to("no_common_codec")
    assert info.value.status == 488
    with pytest.raises(NoCommonCodec):
        answer_to("cisco_cucm", ("PCMA", "telephone-event"))


def test_without_telephone_event_in_settings_no_dtmf() -> None:
    sd, neg = answer_to("asterisk", ("PCMA",))
    assert neg.dtmf_pt is None and sd.media[0].formats == ("8",)


def test_our_offer_and_their_answer() -> None:
    offer = make_offer(*ME, session_id=42, version=3)
    assert offer.media[0].formats == ("8", "0", "101")
    theirs = SessionDescription.parse(
        b"v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n"
        b"m=audio 7000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:40\r\n"
    )
    neg = accept_answer(offer, theirs)
    assert neg == Negotiated("PCMU", 0, 8000, 101, "198.51.100.1", 7000, "sendrecv", 40)


def test_answer_refusing_our_stream() -> None:
    offer = make_offer(*ME, ("PCMA",), session_id=1)
    refused = SessionDescription.parse(
        b"v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n"
        b"m=audio 0 RTP/AVP 8\r\n"
    )
    with pytest.raises(NoCommonCodec):
        accept_answer(offer, refused)


def test_hold_and_resume_offers_bump_the_version_once_per_change() -> None:
    offer = make_offer(*ME, session_id=9, version=0)
    held = with_direction(offer, "sendonly")
    assert held.origin.version == 1 and held.media[0].direction == "sendonly"
    assert with_direction(held, "sendonly") == held  # nothing changed: same version
    resumed = with_direction(held, "sendrecv")
    assert resumed.origin.version == 2 and resumed.media[0].direction == "sendrecv"
    # their hold answered twice by us: the second answer is the same description
    first, _ = answer(body("asterisk"), *ME, session_id=9)
    again, _ = answer(body("asterisk"), *ME, session_id=9, previous=first)
    assert again == first
    held_answer, neg = answer(body("asterisk_hold"), *ME, previous=first)
    assert held_answer.origin.version == first.origin.version + 1 and neg.direction == "recvonly"
    assert bump_version(first, None) is first


def test_we_hold_while_they_reinvite() -> None:
    _, neg = answer(body("asterisk"), *ME, direction="sendonly")
    assert neg.direction == "sendonly"
    _, neg = answer(body("asterisk_hold"), *ME, direction="sendonly")
    assert neg.direction == "inactive"


def test_offer_with_ipv6_and_bad_arguments() -> None:
    offer = make_offer("2001:db8::1", 4000, session_id=1, direction="recvonly", ptime=30)
    text = offer.to_bytes().decode()
    assert "o=telesip 1 0 IN IP6 2001:db8::1\r\n" in text and "a=ptime:30\r\na=recvonly" in text
    with pytest.raises(ValueError):
        make_offer(*ME, ("GSM", "telephone-event"), session_id=1)
    with pytest.raises(ValueError):
        make_offer(*ME, session_id=1, direction="sideways")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"o=- 1 1 IN IP4 1.2.3.4\r\n",  # no v=
        b"v=0\r\ns=-\r\n",  # no o=
        b"v=0\r\no=- x 1 IN IP4 1.2.3.4\r\n",
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP5 1.2.3.4\r\n",
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n",
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 7000 RTP/AVP\r\n",
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 7000 RTP/AVP 0\r\ns=late\r\n",
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nt=now\r\n",
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nthis is not sdp\r\n",
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n\xff\xfe\r\n",
    ],
)
def test_malformed_bodies_raise_sdp_error(data: bytes) -> None:
    with pytest.raises(SdpError):
        SessionDescription.parse(data)


def test_malformed_attributes_are_ignored_not_fatal() -> None:
    sd = SessionDescription.parse(
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n"
        b"m=audio 7000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event\r\na=ptime:abc\r\n"
    )
    m = sd.media[0]
    assert m.ptime is None and set(m.rtpmaps()) == {8}
    _, neg = answer(sd, *ME)
    assert neg.dtmf_pt is None and neg.ptime == 20


# -- properties


_token = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=8)
_attr = st.tuples(_token, st.none() | st.text("abc 0123/:=-", max_size=12))
_addr = st.sampled_from(["10.0.0.1", "2001:db8::1", "pbx.example.com", "0.0.0.0"])


@st.composite
def descriptions(draw: st.DrawFn) -> SessionDescription:
    def conn() -> Connection:
        a = draw(_addr)
        return Connection("IP6" if ":" in a else "IP4", a)

    media = tuple(
        MediaDescription(
            draw(st.sampled_from(["audio", "video", "application"])),
            draw(st.integers(0, 65535)),
            draw(st.sampled_from(["RTP/AVP", "RTP/SAVP", "udp"])),
            tuple(draw(st.lists(st.integers(0, 127).map(str), min_size=1, max_size=5))),
            draw(st.none() | st.just(conn())),
            tuple(draw(st.lists(_attr, max_size=4))),
            tuple(draw(st.lists(st.tuples(st.just("b"), _token), max_size=1))),
            draw(st.none() | st.integers(1, 4)),
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    a = draw(_addr)
    origin = Origin(
        draw(_token), draw(st.integers(0, 2**63)), draw(st.integers(0, 2**63)),
        "IP6" if ":" in a else "IP4", a,
    )  # fmt: skip
    return SessionDescription(
        origin,
        draw(_token),
        draw(st.none() | st.just(conn())),
        ("t=0 0",),
        tuple(draw(st.lists(_attr, max_size=3))),
        tuple(draw(st.lists(st.tuples(st.sampled_from("iub"), _token), max_size=2))),
        media,
    )


@given(descriptions())
@settings(max_examples=200)
def test_round_trip_property(sd: SessionDescription) -> None:
    again = SessionDescription.parse(sd.to_bytes())
    assert again.to_bytes() == sd.to_bytes()  # i/u/b lines come out in RFC 4566 order
    assert again.media == sd.media and again.attributes == sd.attributes
    assert (again.origin, again.name, again.connection) == (sd.origin, sd.name, sd.connection)
    assert sorted(again.other) == sorted(sd.other)


@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
@settings(max_examples=300)
def test_junk_never_raises_anything_but_sdp_error(data: bytes) -> None:
    try:
        sd = SessionDescription.parse(b"v=0\r\n" + data)
    except SdpError:
        return
    with contextlib.suppress(NoCommonCodec):
        answer(sd, *ME)


@given(descriptions())
@settings(max_examples=200)
def test_answer_never_raises_anything_but_no_common_codec(sd: SessionDescription) -> None:
    try:
        ans, neg = answer(sd, *ME)
    except NoCommonCodec:
        return
    assert len(ans.media) == len(sd.media)
    assert neg.codec in ("PCMA", "PCMU")
