"""RTP header parse/build (RFC 3550 §5.1) and the sender's numbering."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telesip.media import MalformedPacket, RtpExtension, RtpPacket, RtpSender
from telesip.media.rtp import seq_diff

# V=2 P=0 X=0 CC=0 M=1 PT=8 seq=0x1234 ts=0xdeadbeef ssrc=0x01020304 payload d5 d5
KNOWN = bytes.fromhex("8088 1234 deadbeef 01020304 d5d5")


def test_parse_a_known_packet() -> None:
    p = RtpPacket.parse(KNOWN)
    assert p == RtpPacket(8, 0x1234, 0xDEADBEEF, 0x01020304, b"\xd5\xd5", marker=True)
    assert p.to_bytes() == KNOWN


def test_csrc_extension_and_padding() -> None:
    # V=2 P=1 X=1 CC=2, PT 0, then 2 CSRCs, extension 0xBEDE with one word, payload, 3 padding.
    data = (
        bytes.fromhex("b200 0001 00000002 00000003")
        + bytes.fromhex("0000000a 0000000b")
        + bytes.fromhex("bede 0001 11223344")
        + b"abc"
        + bytes.fromhex("0000 03")
    )
    p = RtpPacket.parse(data)
    assert p.csrc == (10, 11)
    assert p.extension == RtpExtension(0xBEDE, bytes.fromhex("11223344"))
    assert p.payload == b"abc" and p.padding == 3
    assert p.to_bytes() == data


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80\x08\x00",
        bytes.fromhex("4008 0001 00000000 00000000"),  # version 1
        bytes.fromhex("c008 0001 00000000 00000000"),  # version 3
        bytes.fromhex("8208 0001 00000000 00000000 00000001"),  # CC=2, one CSRC present
        bytes.fromhex("9008 0001 00000000 00000000 bede"),  # extension header cut
        bytes.fromhex("9008 0001 00000000 00000000 bede0002 00000000"),  # extension cut
        bytes.fromhex("a008 0001 00000000 00000000 d5 00"),  # padding count 0
        bytes.fromhex("a008 0001 00000000 00000000 d5 09"),  # padding longer than the packet
        bytes.fromhex("80c8 0006 00000000 00000000"),  # an RTCP SR on the RTP port
        bytes.fromhex("80c9 0001 00000000 00000000"),  # an RTCP RR
    ],
)
def test_junk_is_rejected(data: bytes) -> None:
    with pytest.raises(MalformedPacket):
        RtpPacket.parse(data)


def test_malformed_packet_is_a_media_and_value_error_not_a_persons() -> None:
    from telesip.domain.errors import TelesipError
    from telesip.media.errors import MediaError

    with pytest.raises(MediaError) as info:
        RtpPacket.parse(b"junk")
    assert isinstance(info.value, ValueError)
    assert not isinstance(info.value, TelesipError)
    assert info.value.code == "media_malformed_packet"


packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127).filter(lambda pt: not 72 <= pt <= 76),
    sequence=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    payload=st.binary(max_size=200),
    marker=st.booleans(),
    csrc=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15).map(tuple),
    extension=st.none()
    | st.builds(
        RtpExtension,
        st.integers(0, 0xFFFF),
        st.binary(max_size=40).map(lambda b: b[: len(b) - len(b) % 4]),
    ),
    padding=st.integers(0, 255),
)


@given(packets)
def test_round_trip(packet: RtpPacket) -> None:
    assert RtpPacket.parse(packet.to_bytes()) == packet


@given(st.binary(max_size=80))
def test_parse_never_fails_with_anything_but_malformed_packet(data: bytes) -> None:
    try:
        p = RtpPacket.parse(data)
    except MalformedPacket:
        return
    assert RtpPacket.parse(p.to_bytes()) == p


def test_seq_diff_wraps() -> None:
    assert seq_diff(1, 0xFFFF) == 2
    assert seq_diff(0xFFFF, 1) == -2
    assert seq_diff(100, 100) == 0


def test_sender_numbers_packets_and_marks_talkspurts() -> None:
    sender = RtpSender(rng=random.Random(7))
    seq0, ts0, ssrc = sender.sequence, sender.timestamp, sender.ssrc
    first = RtpPacket.parse(sender.audio(8, bytes(160), 160))
    second = RtpPacket.parse(sender.audio(8, bytes(160), 160))
    assert (first.sequence, first.timestamp, first.ssrc, first.marker) == (seq0, ts0, ssrc, True)
    assert second.sequence == (seq0 + 1) & 0xFFFF
    assert second.timestamp == (ts0 + 160) & 0xFFFFFFFF
    assert not second.marker
    sender.skip(800)  # 100 ms not sent: the clock runs on and a talkspurt starts
    third = RtpPacket.parse(sender.audio(8, bytes(160), 160))
    assert third.marker and third.timestamp == (ts0 + 320 + 800) & 0xFFFFFFFF
    assert sender.packets_sent == 3 and sender.octets_sent == 480


def test_sender_starts_at_random_values() -> None:
    a, b = RtpSender(), RtpSender()
    assert (a.ssrc, a.sequence, a.timestamp) != (b.ssrc, b.sequence, b.timestamp)


def test_sender_wraps_sequence_and_timestamp() -> None:
    sender = RtpSender(ssrc=1)
    sender.sequence, sender.timestamp = 0xFFFF, 0xFFFFFFFF - 100
    a = RtpPacket.parse(sender.audio(0, b"x" * 160, 160))
    b = RtpPacket.parse(sender.audio(0, b"x" * 160, 160))
    assert (a.sequence, b.sequence) == (0xFFFF, 0)
    assert b.timestamp == 59


def test_event_packets_keep_their_timestamp_and_share_the_sequence() -> None:
    sender = RtpSender(ssrc=5)
    seq = sender.sequence
    a = RtpPacket.parse(sender.event(101, 1000, b"\x01\x0a\x00\xa0", True))
    b = RtpPacket.parse(sender.event(101, 1000, b"\x01\x0a\x01\x40", False))
    assert (a.timestamp, b.timestamp) == (1000, 1000)
    assert (a.sequence, b.sequence) == (seq, (seq + 1) & 0xFFFF)
    assert a.marker and not b.marker and a.payload_type == 101
