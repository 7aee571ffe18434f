"""G.722 and Opus in the offer/answer (sip/negotiation.py), against the SDP baresip 1.0.0 and
linphone 5.1 send (taken from their traces in tests/calls/test_softphones.py): G.722's rtpmap
says 8000 though it samples at 16 kHz (RFC 3551), Opus is always `opus/48000/2` (RFC 7587),
and a telephone-event is taken only at its audio codec's clock."""

from __future__ import annotations

import pytest

from telesip.sip.negotiation import NoCommonCodec, accept_answer, answer, make_offer
from telesip.sip.sdp import SessionDescription

ME = ("192.0.2.5", 20000)
TE = "telephone-event"

BARESIP = """v=0
o=- 1834985614 2018366893 IN IP4 127.0.1.2
s=-
c=IN IP4 127.0.1.2
t=0 0
m=audio 32020 RTP/AVP 96 9 0 8 101
b=AS:125
a=rtpmap:96 opus/48000/2
a=fmtp:96 stereo=1;sprop-stereo=1
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=sendrecv
"""

LINPHONE = """v=0
o=201 3617 1893 IN IP4 127.0.0.1
s=Talk
c=IN IP4 127.0.0.1
t=0 0
m=audio 33024 RTP/AVP 96 97 98 9 18 8 0 99 100 101
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:97 speex/16000
a=fmtp:97 vbr=on
a=rtpmap:98 speex/8000
a=fmtp:98 vbr=on
a=fmtp:18 annexb=yes
a=rtpmap:99 telephone-event/48000
a=rtpmap:100 telephone-event/16000
a=rtpmap:101 telephone-event/8000
a=rtcp-fb:* trr-int 1000
"""


def sdp(text: str) -> SessionDescription:
    return SessionDescription.parse(text.replace("\n", "\r\n").encode())


def lines(sd: SessionDescription) -> list[str]:
    return sd.to_bytes().decode().splitlines()


@pytest.mark.parametrize("offer", [BARESIP, LINPHONE], ids=["baresip", "linphone"])
def test_g722_first_in_the_line_is_answered_with_its_8000_clock(offer: str) -> None:
    sd, neg = answer(sdp(offer), *ME, ("G722", "PCMA", TE), session_id=1)
    (m,) = sd.media
    assert m.formats == ("9", "101")
    assert "a=rtpmap:9 G722/8000" in lines(sd)
    assert "a=rtpmap:101 telephone-event/8000" in lines(sd)
    assert (neg.codec, neg.payload_type, neg.clock_rate, neg.dtmf_pt) == ("G722", 9, 8000, 101)


def test_opus_from_linphone_with_its_48000_telephone_event() -> None:
    sd, neg = answer(sdp(LINPHONE), *ME, ("opus", "PCMA", TE), session_id=1)
    (m,) = sd.media
    assert m.formats == ("96", "99")  # its payload types, kept
    text = lines(sd)
    assert "a=rtpmap:96 opus/48000/2" in text
    assert any(t.startswith("a=fmtp:96 maxplaybackrate=48000") and "stereo=0" in t for t in text)
    assert "a=rtpmap:99 telephone-event/48000" in text
    assert (neg.codec, neg.payload_type, neg.clock_rate, neg.dtmf_pt) == ("OPUS", 96, 48000, 99)


def test_opus_from_baresip_whose_only_telephone_event_is_at_8000_gets_no_4733() -> None:
    """RFC 4733 events share the audio's clock: an 8000 Hz event beside 48000 Hz Opus is not
    taken (keys then go as SIP INFO, as the e2e test saw baresip accept)."""
    sd, neg = answer(sdp(BARESIP), *ME, ("opus", "PCMA", TE), session_id=1)
    assert sd.media[0].formats == ("96",)
    assert (neg.codec, neg.clock_rate, neg.dtmf_pt) == ("OPUS", 48000, None)


def test_the_line_order_wins_over_the_offer_order() -> None:
    _, neg = answer(sdp(BARESIP), *ME, ("PCMA", "opus", "G722", TE), session_id=1)
    assert neg.codec == "PCMA"
    _, neg = answer(sdp(LINPHONE), *ME, ("G722", "opus", TE), session_id=1)
    assert neg.codec == "G722"


def test_opus_or_g722_at_another_clock_is_not_taken() -> None:
    odd = BARESIP.replace("opus/48000/2", "opus/16000").replace("G722/8000", "G722/16000")
    odd = odd.replace("RTP/AVP 96 9 0 8 101", "RTP/AVP 96 97 101").replace(
        "a=rtpmap:9 G722", "a=rtpmap:97 G722"
    )
    with pytest.raises(NoCommonCodec):
        answer(sdp(odd), *ME, ("opus", "G722", TE), session_id=1)


def test_our_offer_lists_them_in_the_line_order_with_an_event_per_clock() -> None:
    offer = make_offer(*ME, ("opus", "G722", "PCMA", TE), session_id=5)
    (m,) = offer.media
    assert m.formats == ("111", "9", "8", "101", "110")
    text = lines(offer)
    for line in (
        "a=rtpmap:111 opus/48000/2",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=rtpmap:110 telephone-event/48000",
    ):
        assert line in text
    # without opus, no 48000 event
    assert make_offer(*ME, ("G722", TE), session_id=5).media[0].formats == ("9", "101")


def test_their_answer_settles_the_codec_and_its_event() -> None:
    offer = make_offer(*ME, ("opus", "G722", "PCMA", TE), session_id=5)
    as_linphone = """v=0
o=201 1 1 IN IP4 127.0.0.1
s=Talk
c=IN IP4 127.0.0.1
t=0 0
m=audio 33040 RTP/AVP 111 8 101 110
a=rtpmap:111 opus/48000/2
a=fmtp:111 useinbandfec=1
a=rtpmap:101 telephone-event/8000
a=rtpmap:110 telephone-event/48000
"""
    neg = accept_answer(offer, sdp(as_linphone))
    assert (neg.codec, neg.payload_type, neg.clock_rate, neg.dtmf_pt) == ("OPUS", 111, 48000, 110)
    as_baresip = """v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 32050 RTP/AVP 9 101
a=rtpmap:9 G722/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
"""
    neg = accept_answer(offer, sdp(as_baresip))
    assert (neg.codec, neg.payload_type, neg.clock_rate, neg.dtmf_pt) == ("G722", 9, 8000, 101)
