"""RTCP compound packets (RFC 3550 §6) and reception statistics (A.1, A.3, A.8)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telesip.media import (
    Bye,
    MalformedPacket,
    ReceiverReport,
    ReceptionStats,
    ReportBlock,
    SenderReport,
    SourceDescription,
    build_rtcp,
    parse_rtcp,
)
from telesip.media.rtcp import ntp_timestamp


def test_compound_round_trip() -> None:
    block = ReportBlock(0x11111111, 25, 300, 0x0001_0005, 42, 0xAABBCCDD, 65536)
    packets = [
        SenderReport(0x22222222, ntp_timestamp(1_700_000_000.5), 123456, 50, 8000, (block,)),
        SourceDescription(((0x22222222, "telesip@127.0.0.1"),)),
        Bye((0x22222222,), "call ended"),
    ]
    data = build_rtcp(*packets)
    assert len(data) % 4 == 0
    assert parse_rtcp(data) == packets


def test_receiver_report_with_negative_cumulative_loss() -> None:
    block = ReportBlock(1, 0, -3, 99, 0)
    rr = ReceiverReport(7, (block,))
    assert parse_rtcp(build_rtcp(rr, SourceDescription(((7, "x"),)))) == [
        rr,
        SourceDescription(((7, "x"),)),
    ]


def test_a_hand_made_compound_packet() -> None:
    # RR (no blocks) from 0x01020304; SDES with CNAME "ab" and NOTE "n"; APP (skipped); BYE.
    data = bytes.fromhex(
        "80c90001 01020304"
        "81ca0003 01020304 0102 6162 0701 6e 00"  # chunk: CNAME "ab", NOTE "n", end, pad
        "80cc0002 01020304 6e616d65"  # APP "name"
        "81cb0001 01020304"
    )
    assert parse_rtcp(data) == [
        ReceiverReport(0x01020304),
        SourceDescription(((0x01020304, "ab"),)),
        Bye((0x01020304,)),
    ]


def test_ntp_timestamp() -> None:
    assert ntp_timestamp(0.0) == 2_208_988_800 << 32
    assert ntp_timestamp(0.5) & 0xFFFFFFFF == 1 << 31


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\xc9\x00",
        bytes.fromhex("40c90001 01020304"),  # version 1
        bytes.fromhex("80c90005 01020304"),  # length past the end
        bytes.fromhex("81ca0001 01020304"),  # starts with SDES
        bytes.fromhex("81c90001 01020304"),  # RR claims a block it does not hold
        bytes.fromhex("80c90001 01020304 80"),  # trailing junk
        bytes.fromhex("a0c90001 01020300"),  # padding count 0
    ],
)
def test_malformed_rtcp(data: bytes) -> None:
    with pytest.raises(MalformedPacket):
        parse_rtcp(data)


@given(st.binary(max_size=120))
def test_rtcp_parse_never_fails_otherwise(data: bytes) -> None:
    with contextlib.suppress(MalformedPacket):
        parse_rtcp(data)


def test_interarrival_jitter_a8() -> None:
    stats = ReceptionStats(1, 0)
    # (RTP timestamp, arrival in timestamp units): the third packet is 10 units late.
    for seq, (ts, arrival) in enumerate([(0, 1000), (160, 1160), (320, 1330), (480, 1480)]):
        stats.update_seq(seq)
        stats.update_jitter(ts, arrival)
        if seq == 1:
            assert stats.jitter == 0.0
        if seq == 2:
            assert stats.jitter == pytest.approx(10 / 16)  # D = 10
    assert stats.jitter == pytest.approx(10 / 16 + (10 - 10 / 16) / 16)  # D = |-10|
    assert stats.report_block().jitter == 1


def test_jitter_survives_timestamp_wraparound() -> None:
    stats = ReceptionStats(1, 0)
    stats.update_jitter(0xFFFFFF00, 5)
    stats.update_jitter(0x60, 5 + 0x160)
    assert stats.jitter == 0.0


def test_loss_and_fraction_lost() -> None:
    stats = ReceptionStats(9, 65530)
    for seq in [65530, 65531, 65533, 65535, 0, 1, 3]:  # 65532, 65534, 2 lost; wraps once
        assert stats.update_seq(seq)
    block = stats.report_block()
    assert block.highest_seq == 65536 + 3
    assert block.cumulative_lost == 3
    assert block.fraction_lost == (3 << 8) // 10
    for seq in [4, 5, 6, 7]:
        stats.update_seq(seq)
    block = stats.report_block()
    assert block.fraction_lost == 0 and block.cumulative_lost == 3


def test_a_wild_jump_is_dropped_until_confirmed() -> None:
    stats = ReceptionStats(9, 100)
    stats.update_seq(100)
    assert not stats.update_seq(20000)
    assert stats.update_seq(20001)  # two in a row: the source restarted
    assert stats.expected == 1 and stats.received == 1
