"""SRTP through libsrtp (pylibsrtp), checked against RFC 3711's own test vectors.

The reference below is RFC 3711 written out with AES and HMAC from `cryptography`: the key
derivation of §4.3 (checked against Appendix B.3), the AES counter mode of §4.1.1 (checked
against Appendix B.2), the packet index of §3.3.1 and the authentication tag of §4.2. A packet
protected by `SrtpTransform` must be byte for byte what the reference makes, for both suites,
and for SRTCP (§3.4) too; a tampered or replayed packet is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from telesip.media.errors import MalformedPacket
from telesip.media.srtp import SrtpKeys, SrtpTransform

# RFC 3711 Appendix B.3 (key derivation test vectors)
MASTER_KEY = bytes.fromhex("E1F97A0D3E018BE0D64FA32C06DE4139")
MASTER_SALT = bytes.fromhex("0EC675AD498AFEEBB6960B3AABE6")
B3_CIPHER_KEY = bytes.fromhex("C61E7A93744F39EE10734AFE3FF7A087")
B3_CIPHER_SALT = bytes.fromhex("30CBBC08863D8C85D49DB34A9AE1")
B3_AUTH_KEY = bytes.fromhex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")


def _aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def derive(master_key: bytes, master_salt: bytes, label: int, length: int) -> bytes:
    """RFC 3711 §4.3.1 with key_derivation_rate 0: x = label || r (r = 0) XOR the salt."""
    x = int.from_bytes(master_salt, "big") ^ (label << 48)
    iv = (x << 16).to_bytes(16, "big")
    return _aes_ctr(master_key, iv, bytes(length))


def test_key_derivation_matches_rfc3711_b3() -> None:
    assert derive(MASTER_KEY, MASTER_SALT, 0x00, 16) == B3_CIPHER_KEY
    assert derive(MASTER_KEY, MASTER_SALT, 0x02, 14) == B3_CIPHER_SALT
    assert derive(MASTER_KEY, MASTER_SALT, 0x01, 20) == B3_AUTH_KEY


def test_aes_cm_keystream_matches_rfc3711_b2() -> None:
    """Appendix B.2: session key 2B7E..., salt F0F1...FCFD, SSRC 0, index 0."""
    key = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
    iv = bytes.fromhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000")
    stream = _aes_ctr(key, iv, bytes(48))
    assert stream[:16] == bytes.fromhex("E03EAD0935C95E80E166B16DD92B4EB4")
    assert stream[16:32] == bytes.fromhex("D23513162B02D0F72A43A2FE4A5F97AB")
    assert stream[32:48] == bytes.fromhex("41E95B3BB0A2E8DD477901E4FCA894C0")


def reference_protect(master: bytes, packet: bytes, roc: int = 0, tag_bytes: int = 10) -> bytes:
    """SRTP (§3.1) of one RTP packet without CSRCs or extension: AES-CM (§4.1.1) and the
    HMAC-SHA1 tag over the packet and the ROC (§4.2)."""
    key, salt = master[:16], master[16:]
    k_e, k_a = derive(key, salt, 0, 16), derive(key, salt, 1, 20)
    k_s = derive(key, salt, 2, 14)
    seq, ssrc = struct.unpack("!H4xI", packet[2:12])
    index = (roc << 16) | seq
    iv = (int.from_bytes(k_s, "big") << 16) ^ (ssrc << 64) ^ (index << 16)
    header, payload = packet[:12], packet[12:]
    encrypted = header + _aes_ctr(k_e, iv.to_bytes(16, "big"), payload)
    tag = hmac.new(k_a, encrypted + struct.pack("!I", roc), hashlib.sha1).digest()[:tag_bytes]
    return encrypted + tag


def reference_protect_rtcp(master: bytes, packet: bytes, index: int) -> bytes:
    """SRTCP (§3.4): the first 8 bytes in clear, the rest AES-CM, E flag + index, 80-bit tag."""
    key, salt = master[:16], master[16:]
    k_e, k_a = derive(key, salt, 3, 16), derive(key, salt, 4, 20)
    k_s = derive(key, salt, 5, 14)
    ssrc = struct.unpack("!I", packet[4:8])[0]
    iv = (int.from_bytes(k_s, "big") << 16) ^ (ssrc << 64) ^ (index << 16)
    body = packet[:8] + _aes_ctr(k_e, iv.to_bytes(16, "big"), packet[8:])
    body += struct.pack("!I", 0x80000000 | index)
    return body + hmac.new(k_a, body, hashlib.sha1).digest()[:10]


# libsrtp's own known-answer packet (test/srtp_driver.c): its key is B.3's master key and salt
KEY = MASTER_KEY + MASTER_SALT
PLAIN = bytes.fromhex("800f1234decafbadcafebabe") + b"\xab" * 16


@pytest.mark.parametrize(
    ("suite", "tag_bytes"), [("AES_CM_128_HMAC_SHA1_80", 10), ("AES_CM_128_HMAC_SHA1_32", 4)]
)
def test_protect_is_rfc3711_srtp_and_round_trips(suite: str, tag_bytes: int) -> None:
    sender = SrtpTransform(SrtpKeys(suite, KEY, bytes(30)))
    receiver = SrtpTransform(SrtpKeys(suite, bytes(30), KEY))
    protected = sender.protect(PLAIN)
    assert protected == reference_protect(KEY, PLAIN, tag_bytes=tag_bytes)
    assert protected[12:28] != PLAIN[12:]  # the payload is not on the wire
    assert receiver.unprotect(protected) == PLAIN


def test_srtcp_is_rfc3711_and_round_trips() -> None:
    # a receiver report with no blocks (RFC 3550 §6.4.2), SSRC deadbeef
    rtcp = bytes.fromhex("80c90001deadbeef") + bytes.fromhex("81ca0002deadbeef01027473")
    sender = SrtpTransform(SrtpKeys("AES_CM_128_HMAC_SHA1_32", KEY, bytes(30)))
    receiver = SrtpTransform(SrtpKeys("AES_CM_128_HMAC_SHA1_32", bytes(30), KEY))
    protected = sender.protect_rtcp(rtcp)
    # SRTCP's tag stays 80 bits with the _32 suite (RFC 4568 §6.2.2); libsrtp numbers its
    # first SRTCP packet 1 (the index is a counter of its own, §3.4, carried in the packet)
    assert len(protected) == len(rtcp) + 4 + 10
    assert protected == reference_protect_rtcp(KEY, rtcp, index=1)
    assert receiver.unprotect_rtcp(protected) == rtcp
    assert receiver.unprotect_rtcp(sender.protect_rtcp(rtcp)) == rtcp  # index 2, fresh


def test_tampered_replayed_or_wrongly_keyed_packets_are_refused() -> None:
    sender = SrtpTransform(SrtpKeys("AES_CM_128_HMAC_SHA1_80", KEY, bytes(30)))
    receiver = SrtpTransform(SrtpKeys("AES_CM_128_HMAC_SHA1_80", bytes(30), KEY))
    protected = sender.protect(PLAIN)
    tampered = protected[:20] + bytes([protected[20] ^ 1]) + protected[21:]
    with pytest.raises(MalformedPacket):
        receiver.unprotect(tampered)
    assert receiver.unprotect(protected) == PLAIN
    with pytest.raises(MalformedPacket):
        receiver.unprotect(protected)  # a replay
    with pytest.raises(MalformedPacket):
        sender.protect(PLAIN)  # the same sequence number again: one keystream, used once
    stranger = SrtpTransform(SrtpKeys("AES_CM_128_HMAC_SHA1_80", bytes(30), bytes(range(30))))
    with pytest.raises(MalformedPacket):
        stranger.unprotect(sender.protect(PLAIN[:3] + b"\x35" + PLAIN[4:]))


def test_keys_never_show_in_a_repr() -> None:
    keys = SrtpKeys("AES_CM_128_HMAC_SHA1_80", KEY, KEY)
    assert KEY.hex() not in repr(keys) and repr(KEY) not in repr(keys)
    with pytest.raises(ValueError):
        SrtpKeys("F8_128_HMAC_SHA1_80", KEY, KEY)
    with pytest.raises(ValueError):
        SrtpTransform(SrtpKeys("AES_CM_128_HMAC_SHA1_80", KEY[:16], KEY))
