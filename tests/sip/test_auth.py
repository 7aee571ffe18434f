"""Digest vectors from RFC 2617 §3.5 and RFC 7616 §3.9.1, and the DigestState flow."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telesip.sip import AuthError, Challenge, DigestState, digest_response, parse_challenge


def test_rfc2617_mufasa() -> None:
    ch = parse_challenge(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    assert ch.qop == ("auth", "auth-int") and ch.algorithm == "MD5"
    resp = digest_response(
        ch,
        username="Mufasa",
        password="Circle Of Life",
        method="GET",
        uri="/dir/index.html",
        cnonce="0a4f113b",
        nc=1,
    )
    assert resp == "6629fae49393a05397450978507c4ef1"


RFC7616 = dict(
    realm="http-auth@example.org",
    nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
)
CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_examples(algorithm: str, expected: str) -> None:
    ch = parse_challenge(
        f'Digest realm="{RFC7616["realm"]}", qop="auth, auth-int", algorithm={algorithm}, '
        f'nonce="{RFC7616["nonce"]}", opaque="{RFC7616["opaque"]}"'
    )
    got = digest_response(
        ch,
        username="Mufasa",
        password="Circle of Life",
        method="GET",
        uri="/dir/index.html",
        cnonce=CNONCE,
        nc=1,
    )
    assert got == expected


def test_md5_sess_uses_the_session_key() -> None:
    ch = Challenge(realm="r", nonce="n", algorithm="MD5-SESS", qop=("auth",))
    a = digest_response(ch, username="u", password="p", method="REGISTER", uri="sip:r", cnonce="c")
    b = digest_response(ch, username="u", password="p", method="REGISTER", uri="sip:r", cnonce="d")
    import hashlib

    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    ha1 = md5(f"{md5('u:r:p')}:n:c")
    assert a == md5(f"{ha1}:n:00000001:c:auth:{md5('REGISTER:sip:r')}") and a != b


def test_without_qop_is_rfc2069() -> None:
    import hashlib

    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    ch = parse_challenge('Digest realm="r", nonce="n"')
    got = digest_response(ch, username="u", password="p", method="REGISTER", uri="sip:r")
    assert got == md5(f"{md5('u:r:p')}:n:{md5('REGISTER:sip:r')}")


def test_stale_and_proxy_challenges() -> None:
    ch = parse_challenge('Digest realm="r", nonce="n2", stale=TRUE, algorithm=MD5', proxy=True)
    assert ch.stale and ch.proxy and ch.header_name == "Proxy-Authorization"


@pytest.mark.parametrize(
    "value",
    [
        'Basic realm="r"',
        'Digest realm="r"',
        'Digest realm="r", nonce="n", algorithm=SHA-1',
        'Digest realm="r", nonce="n", qop="auth-int"',
        'Digest realm="r, nonce="n"',
        "Digest realm",
    ],
)
def test_unusable_challenges(value: str) -> None:
    with pytest.raises(AuthError):
        parse_challenge(value)


def test_state_counts_nonces_and_resets_on_a_new_nonce() -> None:
    st = DigestState("alice", "s3cret")
    assert st.authorize("REGISTER", "sip:example.com", "c") is None
    st.set_challenge(parse_challenge('Digest realm="example.com", nonce="n1", qop="auth"'))
    name, v1 = st.authorize("REGISTER", "sip:example.com", "c") or ("", "")
    _, v2 = st.authorize("REGISTER", "sip:example.com", "c") or ("", "")
    assert name == "Authorization" and "nc=00000001" in v1 and "nc=00000002" in v2
    st.set_challenge(parse_challenge('Digest realm="example.com", nonce="n2", qop="auth"'))
    _, v3 = st.authorize("REGISTER", "sip:example.com", "c") or ("", "")
    assert "nc=00000001" in v3 and 'nonce="n2"' in v3
    assert "s3cret" not in repr(st) and "s3cret" not in v3


# ------------------------------------------- the kept hashes against the three-hash reference


def reference_authorize(st: DigestState, method: str, uri: str, cnonce: str) -> tuple[str, str]:
    """`DigestState.authorize` as it was before it kept H(A1), H(A2) and the header's fixed
    part (2026-12-07, session 8): `digest_response` and a join, for the nonce count given."""
    ch = st.challenge
    assert ch is not None
    resp = digest_response(
        ch, username=st.username, password=st.password, method=method, uri=uri, cnonce=cnonce,
        nc=st.nc,
    )  # fmt: skip
    parts = [
        f'Digest username="{st.username}"',
        f'realm="{ch.realm}"',
        f'nonce="{ch.nonce}"',
        f'uri="{uri}"',
        f'response="{resp}"',
        f"algorithm={ch.algorithm.replace('-SESS', '-sess')}",
    ]
    if ch.opaque is not None:
        parts.append(f'opaque="{ch.opaque}"')
    if "auth" in ch.qop or ch.algorithm.endswith("-SESS"):
        parts.append(f'cnonce="{cnonce}"')
    if "auth" in ch.qop:
        parts.append(f"qop=auth, nc={st.nc:08x}")
    return ch.header_name, ", ".join(parts)


challenges = st.builds(
    Challenge,
    realm=st.sampled_from(["example.com", "127.0.0.1", "other"]),
    nonce=st.sampled_from(["n1", "n2", "axZtLGsWaaicCUTe2N6BgL/iZARlOHL2"]),
    algorithm=st.sampled_from(["MD5", "MD5-SESS", "SHA-256", "SHA-256-SESS", "SHA-512-256"]),
    qop=st.sampled_from([(), ("auth",), ("auth", "auth-int")]),
    opaque=st.sampled_from([None, "op"]),
    proxy=st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), challenges),  # None: keep the challenge in force
            st.sampled_from(["REGISTER", "INVITE"]),
            st.sampled_from(["sip:example.com", "sip:127.0.0.1:5060", "sips:x;transport=tls"]),
            st.sampled_from(["c", "0123456789abcdef"]),
            st.sampled_from([None, ("alice", "s3cret"), ("bob", "pw")]),  # new credentials
        ),
        min_size=1,
        max_size=8,
    )
)
def test_authorize_gives_what_three_hashes_give(
    steps: list[tuple[Challenge | None, str, str, str, tuple[str, str] | None]],
) -> None:
    st_ = DigestState("alice", "s3cret")
    for ch, method, uri, cnonce, creds in steps:
        if creds is not None:
            st_.username, st_.password = creds
        if ch is not None:
            st_.set_challenge(ch)
        if st_.challenge is None:
            assert st_.authorize(method, uri, cnonce) is None
            continue
        got = st_.authorize(method, uri, cnonce)
        assert got == reference_authorize(st_, method, uri, cnonce)


def test_the_nonce_count_is_written_past_its_table() -> None:
    """Counts below 256 come from a table of written counts, the rest are formatted."""
    st_ = DigestState("alice", "s3cret")
    st_.set_challenge(parse_challenge('Digest realm="example.com", nonce="n1", qop="auth"'))
    for n in range(1, 300):
        got = st_.authorize("REGISTER", "sip:example.com", "c")
        assert got == reference_authorize(st_, "REGISTER", "sip:example.com", "c")
        assert got is not None and got[1].endswith(f"nc={n:08x}")


def test_a_nonce_is_adopted_only_from_the_same_protection_space() -> None:
    own = parse_challenge('Digest realm="pbx", nonce="n1", qop="auth"')
    st_ = DigestState("alice", "s3cret")
    assert not st_.adopt(own)  # nothing to renew before a challenge of our own
    st_.set_challenge(own)
    st_.authorize("REGISTER", "sip:pbx", "c1")
    assert st_.nc == 1
    for other in (
        'Digest realm="pbx", nonce="n1", qop="auth"',  # the same nonce
        'Digest realm="other", nonce="n2", qop="auth"',  # another realm
        'Digest realm="pbx", nonce="n2", algorithm=SHA-256, qop="auth"',  # another algorithm
    ):
        assert not st_.adopt(parse_challenge(other))
    assert not st_.adopt(parse_challenge('Digest realm="pbx", nonce="n2"', proxy=True))
    assert st_.challenge is own and st_.nc == 1
    assert st_.adopt(parse_challenge('Digest realm="pbx", nonce="n2", qop="auth"'))
    assert st_.challenge is not None and st_.challenge.nonce == "n2" and st_.nc == 0
    header = st_.authorize("REGISTER", "sip:pbx", "c2")
    assert header is not None and 'nonce="n2"' in header[1] and "nc=00000001" in header[1]
