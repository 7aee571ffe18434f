"""SDES (RFC 4568): `a=crypto` read and written, and the offer/answer with SRTP under each line
setting (off, optional, required), against SDP bodies shaped like what real PBXs and
softphones send. The bodies are written for these tests from how those peers are known to
offer (the keys are random test values, nothing captured from a real device)."""

from __future__ import annotations

import base64
import itertools
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from telesip.sip.call import IncomingCall, MediaChanged
from telesip.sip.message import Request, Response, parse_message
from telesip.sip.negotiation import NoCommonCodec, accept_answer, answer, make_offer
from telesip.sip.sdp import CryptoAttribute, SdpError, SessionDescription, SrtpKey

K1 = "CaYf/4v+0getwBCT4eBKeAB1w2pTyIWEFl3vWAZs"
K2 = "YXyqCwphRu5ZsVEEWWEKoVecUg8wYE3dsYt72T5U"
K3 = "sMurwWEDrmKKgFOMTB7kyZwsgOAf47pXXS+GLGI8"
K256 = "pnSzfGqaSI3H+VoNK+I4+Rm3il9KdczeUbRV6HHxyQRSFe5ezKev9bIVkAu9Zw=="

# Asterisk (chan_pjsip, endpoint media_encryption=sdes): RTP/SAVP, an _80 line (and _32)
ASTERISK_SDES = f"""v=0
o=- 1723562447 1723562447 IN IP4 192.0.2.10
s=Asterisk
c=IN IP4 192.0.2.10
t=0 0
m=audio 14226 RTP/SAVP 8 0 101
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{K1}
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{K2}
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=maxptime:150
a=sendrecv
"""

# RTP/SAVP with the _32 suite listed first and rtcp-mux offered (once taken for baresip's shape;
# baresip 1.0.0 itself offers _80 only, see the captured offers at the end)
BARESIP_SRTP_MAND = f"""v=0
o=- 2890154281 1840377321 IN IP4 192.0.2.20
s=-
c=IN IP4 192.0.2.20
t=0 0
m=audio 10584 RTP/SAVP 0 8 101
b=AS:64
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
a=label:1
a=rtcp-mux
a=ssrc:1640431851 cname:2d0c6d1a4b8e1f3a
a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:{K3}
a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{K1}
a=ptime:20
"""

# linphone with SRTP mandatory: RTP/SAVP, dynamic codecs first, AES-256 suites besides ours
LINPHONE_SRTP_MANDATORY = f"""v=0
o=alice 3215 2178 IN IP4 192.0.2.30
s=Talk
c=IN IP4 192.0.2.30
t=0 0
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
m=audio 7078 RTP/SAVP 96 97 98 0 8 101 99 100
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:97 speex/16000
a=fmtp:97 vbr=on
a=rtpmap:98 speex/8000
a=fmtp:98 vbr=on
a=rtpmap:101 telephone-event/48000
a=rtpmap:99 telephone-event/16000
a=rtpmap:100 telephone-event/8000
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{K2}
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{K3}
a=crypto:3 AES_256_CM_HMAC_SHA1_80 inline:{K256}
a=crypto:4 AES_256_CM_HMAC_SHA1_32 inline:{K256}
a=rtcp-fb:* trr-int 1000
a=rtcp-fb:* ccm tmmbr
"""

# a phone that sends a master key identifier and a lifetime: parsed, and not taken
WITH_MKI = f"""v=0
o=- 1 1 IN IP4 192.0.2.40
s=-
c=IN IP4 192.0.2.40
t=0 0
m=audio 2000 RTP/SAVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{K1}|2^31|1:4
"""

# a plain softphone (no SRTP at all)
PLAIN = """v=0
o=- 5 5 IN IP4 192.0.2.50
s=-
c=IN IP4 192.0.2.50
t=0 0
m=audio 4000 RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
"""

# best-effort SRTP (Asterisk media_encryption_optimistic, linphone optional): RTP/AVP + a=crypto
OPTIMISTIC = PLAIN.replace(
    "a=fmtp:101 0-16\n", f"a=fmtp:101 0-16\na=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:{K2}\n"
)


def sdp(text: str) -> SessionDescription:
    return SessionDescription.parse(text.replace("\n", "\r\n").encode())


def keygen() -> Callable[[int], bytes]:
    counter = itertools.count(1)
    return lambda n: bytes([next(counter)]) * n


def test_crypto_lines_parse_with_their_parts() -> None:
    c = CryptoAttribute.parse(f"1 AES_CM_128_HMAC_SHA1_80 inline:{K1}|2^20|1:4 UNENCRYPTED_SRTCP")
    assert (c.tag, c.suite, c.lifetime, c.mki) == (1, "AES_CM_128_HMAC_SHA1_80", 2**20, (1, 4))
    assert c.key.reveal() == base64.b64decode(K1) and c.session_params == ("UNENCRYPTED_SRTCP",)
    assert c.unsupported == "MKI (several master keys)"
    assert CryptoAttribute.parse(f"2 AES_CM_128_HMAC_SHA1_32 inline:{K2}").unsupported is None
    assert "lifetime" in str(
        CryptoAttribute.parse(f"3 AES_CM_128_HMAC_SHA1_80 inline:{K2}|1048576").unsupported
    )
    assert CryptoAttribute.parse(f"3 AES_CM_128_HMAC_SHA1_80 inline:{K2}|2^31").unsupported is None
    several = CryptoAttribute.parse(
        f"4 AES_CM_128_HMAC_SHA1_80 inline:{K1}|2^20|1:4;inline:{K2}|2^20|2:4"
    )
    assert several.more_keys == 1 and several.unsupported is not None
    assert "F8" in str(CryptoAttribute.parse(f"5 F8_128_HMAC_SHA1_80 inline:{K1}").unsupported)
    assert "session" in str(
        CryptoAttribute.parse(f"6 AES_CM_128_HMAC_SHA1_80 inline:{K1} KDR=1").unsupported
    )


@pytest.mark.parametrize(
    "value",
    [
        "AES_CM_128_HMAC_SHA1_80 inline:" + K1,  # no tag
        "1234567890 AES_CM_128_HMAC_SHA1_80 inline:" + K1,  # tag of 10 digits
        "1 AES_CM_128_HMAC_SHA1_80 uri:https://example.invalid/key",  # not inline
        "1 AES_CM_128_HMAC_SHA1_80 inline:not*base64",
        "1 AES_CM_128_HMAC_SHA1_80 inline:" + K256,  # 46 bytes for a 30-byte suite
        "1 AES_CM_128_HMAC_SHA1_80 inline:" + K1 + "|2^99",
        "1 AES_CM_128_HMAC_SHA1_80 inline:" + K1 + "|1:4|2^31",  # MKI before lifetime
    ],
)
def test_malformed_crypto_lines_are_refused(value: str) -> None:
    with pytest.raises(SdpError):
        CryptoAttribute.parse(value)


def test_a_crypto_line_round_trips_and_its_key_never_shows() -> None:
    value = f"1 AES_CM_128_HMAC_SHA1_80 inline:{K1}"
    c = CryptoAttribute.parse(value)
    assert c.sdp_value() == value
    assert K1 not in repr(c) and K1 not in str(c) and "30 bytes" in repr(c.key)
    assert SrtpKey(b"x" * 30) == SrtpKey(b"x" * 30) != SrtpKey(b"y" * 30)


@pytest.mark.parametrize(
    ("body", "suite", "their_key"),
    [
        (ASTERISK_SDES, "AES_CM_128_HMAC_SHA1_80", K1),
        (BARESIP_SRTP_MAND, "AES_CM_128_HMAC_SHA1_80", K1),  # _80 preferred, though second
        (LINPHONE_SRTP_MANDATORY, "AES_CM_128_HMAC_SHA1_80", K2),
    ],
    ids=["asterisk-sdes", "baresip-srtp-mand", "linphone-srtp-mandatory"],
)
@pytest.mark.parametrize("encryption", ["optional", "required"])
def test_srtp_offers_shaped_like_real_peers_are_answered_with_srtp(
    body: str, suite: str, their_key: str, encryption: str
) -> None:
    offer = sdp(body)
    mine, neg = answer(offer, "198.51.100.1", 30000, encryption=encryption, keygen=keygen())
    (m,) = mine.media
    assert m.proto == "RTP/SAVP"
    (crypto,) = m.crypto()
    offered = {c.tag: c for c in offer.media[0].crypto()}
    assert crypto.suite == suite == offered[crypto.tag].suite  # their tag, echoed
    assert crypto.key.reveal() == b"\x01" * 30  # ours, from the key source
    assert neg.srtp is not None and neg.srtp.suite == suite
    assert neg.srtp.remote_key.reveal() == base64.b64decode(their_key)
    assert neg.srtp.local_key == crypto.key
    assert neg.codec in ("PCMA", "PCMU") and neg.dtmf_pt is not None
    # what the peer reads back from our answer settles the same keys, mirrored
    theirs = accept_answer(offer, mine)
    assert theirs.srtp is not None
    assert (theirs.srtp.local_key, theirs.srtp.remote_key) == (
        neg.srtp.remote_key,
        neg.srtp.local_key,
    )
    assert "inline" not in repr(neg) and base64.b64encode(b"\x01" * 30).decode() not in repr(neg)


def test_srtp_offers_are_refused_when_the_line_says_off() -> None:
    with pytest.raises(NoCommonCodec, match="SRTP"):
        answer(sdp(ASTERISK_SDES), "198.51.100.1", 30000, encryption="off")


def test_an_offer_whose_only_crypto_uses_mki_is_refused() -> None:
    with pytest.raises(NoCommonCodec):
        answer(sdp(WITH_MKI), "198.51.100.1", 30000, encryption="required")


def test_plain_offers_under_each_setting() -> None:
    for encryption in ("off", "optional"):
        mine, neg = answer(sdp(PLAIN), "198.51.100.1", 30000, encryption=encryption)
        assert mine.media[0].proto == "RTP/AVP" and not mine.media[0].crypto()
        assert neg.srtp is None
    with pytest.raises(NoCommonCodec, match="required"):
        answer(sdp(PLAIN), "198.51.100.1", 30000, encryption="required")


def test_best_effort_srtp_on_rtp_avp() -> None:
    offer = sdp(OPTIMISTIC)
    mine, neg = answer(offer, "198.51.100.1", 30000, encryption="optional", keygen=keygen())
    assert mine.media[0].proto == "RTP/AVP" and mine.media[0].crypto()[0].tag == 7
    assert neg.srtp is not None
    _, required = answer(offer, "198.51.100.1", 30000, encryption="required")
    assert required.srtp is not None  # SRTP is in use: that is what required asks
    off, neg_off = answer(offer, "198.51.100.1", 30000, encryption="off")
    assert neg_off.srtp is None and not off.media[0].crypto()


def test_our_offers_under_each_setting_and_their_answers() -> None:
    plain = make_offer("198.51.100.1", 30000, session_id=1)
    assert plain.media[0].proto == "RTP/AVP" and not plain.media[0].crypto()
    best = make_offer("198.51.100.1", 30000, session_id=1, encryption="optional")
    assert best.media[0].proto == "RTP/AVP"
    required = make_offer(
        "198.51.100.1", 30000, session_id=1, encryption="required", keygen=keygen()
    )
    assert required.media[0].proto == "RTP/SAVP"
    lines = required.media[0].crypto()
    assert [(c.tag, c.suite) for c in lines] == [
        (1, "AES_CM_128_HMAC_SHA1_80"),
        (2, "AES_CM_128_HMAC_SHA1_32"),
    ]
    assert lines[0].key != lines[1].key  # a key of its own per line
    # Asterisk-like answerer takes our _32 line
    reply = sdp(ASTERISK_SDES.replace(f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{K1}\n", ""))
    neg = accept_answer(required, reply)
    assert neg.srtp is not None and neg.srtp.suite == "AES_CM_128_HMAC_SHA1_32"
    assert neg.srtp.local_key == lines[1].key
    assert neg.srtp.remote_key.reveal() == base64.b64decode(K2)
    # an answer without crypto to an RTP/SAVP offer is unusable; to best effort, plain RTP
    with pytest.raises(NoCommonCodec):
        accept_answer(required, sdp(PLAIN))
    assert accept_answer(best, sdp(PLAIN)).srtp is None
    # a crypto line whose tag or suite is not one of ours is no answer
    wrong = sdp(
        PLAIN.replace(
            "a=fmtp:101 0-16\n",
            f"a=fmtp:101 0-16\na=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:{K2}\n",
        ).replace("RTP/AVP", "RTP/SAVP")
    )
    with pytest.raises(NoCommonCodec):
        accept_answer(required, wrong)


def test_rekeying_a_new_crypto_gives_new_keys_the_same_keeps_them() -> None:
    offer = sdp(ASTERISK_SDES)
    keys = keygen()
    first, neg = answer(offer, "198.51.100.1", 30000, encryption="optional", keygen=keys)
    assert neg.srtp is not None
    again, same = answer(offer, "198.51.100.1", 30000, encryption="optional", keygen=keys,
                         previous=first, previous_srtp=neg.srtp)  # fmt: skip
    assert same.srtp == neg.srtp and again == first  # a session refresh: nothing changed
    rekeyed_offer = sdp(ASTERISK_SDES.replace(K1, K3))
    second, new = answer(rekeyed_offer, "198.51.100.1", 30000, encryption="optional",
                         keygen=keys, previous=first, previous_srtp=neg.srtp)  # fmt: skip
    assert new.srtp is not None and new.srtp.remote_key.reveal() == base64.b64decode(K3)
    assert new.srtp.local_key != neg.srtp.local_key
    assert second.origin.version == first.origin.version + 1


INVITE = (
    "INVITE sip:100@198.51.100.1 SIP/2.0\r\n"
    "Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK-{branch}\r\n"
    "From: <sip:200@192.0.2.10>;tag=far\r\n"
    "To: <sip:100@198.51.100.1>{to}\r\n"
    "Call-ID: srtp-rekey@192.0.2.10\r\n"
    "CSeq: {cseq} INVITE\r\n"
    "Contact: <sip:200@192.0.2.10:5061;transport=tls>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: {length}\r\n\r\n"
)


def _invite(body: str, cseq: int, to: str = "") -> Request:
    data = body.replace("\n", "\r\n").encode()
    head = INVITE.format(branch=cseq, to=to, cseq=cseq, length=len(data))
    msg = parse_message(head.encode() + data)
    assert isinstance(msg, Request)
    return msg


def _ack(cseq: int) -> Request:
    msg = parse_message(
        b"ACK sip:100@198.51.100.1 SIP/2.0\r\n"
        b"Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK-ack%d\r\n"
        b"From: <sip:200@192.0.2.10>;tag=far\r\nTo: <sip:100@198.51.100.1>;tag=us\r\n"
        b"Call-ID: srtp-rekey@192.0.2.10\r\nCSeq: %d ACK\r\nContent-Length: 0\r\n\r\n"
        % (cseq, cseq)
    )
    assert isinstance(msg, Request)
    return msg


def test_a_reinvite_with_a_new_crypto_rekeys_the_call() -> None:
    """The call machine answers the peer's re-INVITE under the line's setting: a new key of
    theirs gets a new key of ours (MediaChanged carries both)."""
    offer = _invite(ASTERISK_SDES, 1)
    call = IncomingCall(offer, local_addr=("198.51.100.1", 5061), tag="us", now=0.0,
                        rng=random.Random(1), media_encryption="required")  # fmt: skip
    mine, neg = answer(sdp(ASTERISK_SDES), "198.51.100.1", 30000, encryption="required")
    call.answer(mine.to_bytes(), 0.0)
    assert call.negotiated is not None and call.negotiated.srtp == neg.srtp
    call.receive(_ack(1), 0.1)
    call.data_to_send()
    while call.next_event() is not None:
        pass
    call.receive(_invite(ASTERISK_SDES.replace(K1, K3), 2, ";tag=us"), 1.0)
    (ok,) = [parse_message(d) for d in call.data_to_send()]
    assert isinstance(ok, Response) and ok.status == 200
    event = call.next_event()
    assert isinstance(event, MediaChanged) and event.negotiated.srtp is not None
    srtp = event.negotiated.srtp
    assert srtp.remote_key.reveal() == base64.b64decode(K3)
    assert srtp.local_key != neg.srtp.local_key  # type: ignore[union-attr]
    (crypto,) = SessionDescription.parse(ok.body).media[0].crypto()
    assert crypto.key == srtp.local_key and "inline" not in repr(event)
    call.receive(_ack(2), 1.1)
    # and a re-INVITE in clear is refused on a line that requires SRTP
    call.receive(_invite(PLAIN, 3, ";tag=us"), 2.0)
    (refused,) = [parse_message(d) for d in call.data_to_send()]
    assert isinstance(refused, Response) and refused.status == 488


# the offers baresip 1.0.0 (`mediaenc=srtp-mand`) and linphonec 5.1.65 (SRTP mandatory) sent
# in a run of tests/calls/test_softphones.py (their throwaway keys included), as captured from
# their SIP traces: baresip offers _80 only and no rtcp-mux; linphone four suites, AES-256 too
CAPTURED = Path(__file__).parent / "data" / "sdp"


@pytest.mark.parametrize(
    ("name", "tag", "codec", "dtmf"),
    [("baresip_srtp_mand", 1, "PCMA", 101), ("linphone_srtp_mandatory", 1, "PCMA", 101)],
)
def test_the_captured_srtp_offers_of_baresip_and_linphone_are_answered_with_srtp(
    name: str, tag: int, codec: str, dtmf: int
) -> None:
    offer = SessionDescription.parse((CAPTURED / f"{name}.sdp").read_bytes())
    (offered,) = [c for c in offer.media[0].crypto() if c.tag == tag]
    mine, neg = answer(offer, "198.51.100.1", 30000, encryption="required", keygen=keygen())
    (m,) = mine.media
    assert m.proto == "RTP/SAVP"
    (crypto,) = m.crypto()
    assert (crypto.tag, crypto.suite) == (tag, "AES_CM_128_HMAC_SHA1_80")
    assert neg.srtp is not None and neg.srtp.remote_key == offered.key
    assert (neg.codec, neg.dtmf_pt, neg.clock_rate) == (codec, dtmf, 8000)
