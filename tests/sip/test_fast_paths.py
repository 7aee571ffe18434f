"""The registration hot path's fast code against the code it replaced, on the same inputs.

- `parse_message` (one pass, names cached, checks only what is checked) against the parser as
  it was (`reference_parser.py`): the RFC 4475 corpus, mutated corpus messages, random bytes and
  registrar-like responses give the same message (start line, every header, body, top Via) or
  the same error, message for message.
- `read_response` (only the lines a client reads) against `parse_message` on the same inputs:
  whatever response the full parser takes, it takes too and reads the same.
- `Registration._send` (one f-string) against the REGISTER built header by header through
  `Headers` and `Request.to_bytes`, byte for byte, over the parameters that change it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from telesip.sip import (
    ParseError,
    Registration,
    RegistrationParams,
    Request,
    Response,
    fields,
    parse_message,
    read_response,
)
from telesip.sip.auth import Challenge
from telesip.sip.fields import Via, _plain_params, _scan_params, parse_via
from telesip.sip.message import Headers
from telesip.sip.registration import escape_user

from .helpers import mutate
from .reference_parser import reference_parse_message, reference_parse_via

TORTURE = Path(__file__).parent / "data" / "torture"
SEEDS = [p.read_bytes() for p in sorted(TORTURE.rglob("*.sip"))]

KAMAILIO_OK = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:40000;rport=40000;branch=z9hG4bK0123456789abcdef;"
    b"received=127.0.0.1\r\n"
    b"From: <sip:b1@127.0.0.1>;tag=0123456789ab\r\n"
    b"To: <sip:b1@127.0.0.1>;tag=3f1e2d3c4b5a69788796a5b4c3d2e1f0.abcd\r\n"
    b"Call-ID: 0123456789abcdef01234567@telesip\r\n"
    b"CSeq: 1 REGISTER\r\n"
    b"Contact: <sip:b1@127.0.0.1:40000>;expires=300\r\n"
    b"Server: kamailio (5.6.3 (x86_64/linux))\r\n"
    b"Content-Length: 0\r\n\r\n"
)
KAMAILIO_401 = KAMAILIO_OK.replace(b"200 OK", b"401 Unauthorized").replace(
    b"Contact: <sip:b1@127.0.0.1:40000>;expires=300\r\n",
    b'WWW-Authenticate: Digest realm="127.0.0.1", nonce="Y2xhc3NpYw", qop="auth"\r\n',
)


def outcome(parse: object, data: bytes, is_stream: bool = False) -> object:
    """What a parser makes of `data`, as plain values to compare."""
    try:
        msg = parse(data, is_stream=is_stream)  # type: ignore[operator]
    except ParseError as exc:
        return ("error", type(exc).__name__, str(exc))
    assert isinstance(msg, Request | Response)
    headers = [(k, n, v) for k, n, v in msg.headers._items]
    if isinstance(msg, Response):
        return ("resp", msg.status, msg.reason, headers, msg.body, msg.top_via)
    return ("req", msg.method, msg.uri, headers, msg.body)


def same(data: bytes) -> None:
    for stream in (False, True):
        assert outcome(parse_message, data, stream) == outcome(
            reference_parse_message, data, stream
        )


def test_the_corpus_and_registrar_answers_parse_as_before() -> None:
    assert len(SEEDS) >= 40
    for data in [*SEEDS, KAMAILIO_OK, KAMAILIO_401]:
        same(data)
    assert outcome(parse_message, KAMAILIO_OK)[0] == "resp"


def test_edge_cases_give_the_same_message_or_error() -> None:
    ok = KAMAILIO_OK
    cases = [
        ok.replace(b"CSeq: 1", b"CSeq : 1"),  # blank before the colon
        ok.replace(b"\r\nCall-ID", b"\r\n Call-ID"),  # folded into the line above
        ok.replace(b"Server: kam", b"Server:\r\n\tkam"),  # folded value
        ok.replace(b"Server: kam", b"Server: k\ram"),  # a lone CR in a value
        ok.replace(b"Server: kam", b"Ser\nver: kam"),  # a lone LF in a name
        ok.replace(b"200 OK", b"200 O\nK"),  # a lone LF in the start line
        ok.replace(b"Server: kam", b"Server kam"),  # no colon
        ok.replace(b"Content-Length: 0", b"Content-Length: 5") + b"abcdefgh",
        ok.replace(b"Content-Length: 0", b"Content-Length: 50"),
        ok.replace(b"Content-Length: 0\r\n", b""),  # none: fine on UDP, not on a stream
        ok.replace(b"CSeq: 1 REGISTER\r\n", b"CSeq: 1 REGISTER\r\nCSeq: 2 REGISTER\r\n"),
        ok.replace(b"Call-ID: 0123456789abcdef01234567@telesip\r\n", b""),
        ok.replace(b"Via: SIP/2.0/UDP", b"v: SIP/2.0/UDP"),  # compact form
        ok.replace(b"Contact: <sip", b"Contact: <<sip"),  # response Contacts: read leniently
        ok.replace(b"Via: SIP/2.0/UDP 127.0.0.1:40000", b"Via: SIP/2.0/UDP 127.0.0.1:99999"),
        ok.replace(b"\r\nServer", b"\r\nExpires: 12x\r\nServer"),
        ok.replace(b"\r\nServer", b"\r\nRetry-After: 30 (busy);duration=5\r\nServer"),
        ok.replace(b"\r\nServer", b"\r\nX-\xc3\xa9: 1\r\nServer"),  # not a token
        ok.replace(b"From: <sip:b1@", 'From: "é" <sip:b1@'.encode()),
        ok.replace(b"Server: kam", b"Server: \xff"),
        ok.replace(b"SIP/2.0 200", b"SIP/3.0 200"),
    ]
    for data in cases:
        same(data)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([*SEEDS, KAMAILIO_OK, KAMAILIO_401]), st.data())
def test_mutated_messages_parse_as_before(seed: bytes, data: st.DataObject) -> None:
    same(mutate(seed, data, [b"\r\n", b"\r", b"\n", b" ", b";", b",", b":"]))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_parse_as_before(data: bytes) -> None:
    same(data)
    same(KAMAILIO_OK[:40] + data)


# ---------------------------------------------------------------- the client's reader

UAC_KEYS = ("via", "call-id", "cseq", "contact", "expires", "min-expires", "retry-after",
            "www-authenticate", "proxy-authenticate", "content-length")  # fmt: skip


def uac_view(msg: Response) -> object:
    lines = {key: [v for k, _, v in msg.headers._items if k == key] for key in UAC_KEYS}
    return (msg.status, msg.reason, msg.body, msg.top_via, lines)


def reads_the_same(data: bytes) -> None:
    """Where `parse_message` takes a response, `read_response` takes it and reads the same."""
    for stream in (False, True):
        try:
            full = parse_message(data, is_stream=stream)
        except ParseError:
            full = None
        try:
            view: Response | None = read_response(data, is_stream=stream)
        except ParseError:
            view = None
        if isinstance(full, Request):
            assert view is None  # a request is not read as a response
        elif full is not None:
            assert view is not None, data
            assert uac_view(view) == uac_view(full)
            assert view.headers.get("Call-ID") == full.headers.get("Call-ID")
            assert view.via() == full.via()


def test_the_reader_reads_the_corpus_and_registrar_answers_as_the_parser() -> None:
    for data in [*SEEDS, KAMAILIO_OK, KAMAILIO_401]:
        reads_the_same(data)
    ok = read_response(KAMAILIO_OK)
    assert (ok.status, ok.headers.get("Call-ID")) == (200, "0123456789abcdef01234567@telesip")
    assert ok.via() is not None and ok.via().branch == "z9hG4bK0123456789abcdef"  # type: ignore[union-attr]
    challenge = read_response(KAMAILIO_401).headers.get_all("WWW-Authenticate")
    assert challenge == ['Digest realm="127.0.0.1", nonce="Y2xhc3NpYw", qop="auth"']


def test_the_reader_skips_only_lines_a_client_does_not_read() -> None:
    ok = KAMAILIO_OK
    # not read by a client: a malformed Date, a duplicate To, a bad header name pass
    for data in (
        ok.replace(b"\r\nServer", b"\r\nDate: yesterday\r\nServer"),
        ok.replace(b"\r\nServer", b"\r\nTo: <sip:x@y>\r\nServer"),
        ok.replace(b"\r\nServer", b"\r\nX-\xc3\xa9: 1\r\nServer"),
    ):
        with pytest.raises(ParseError):
            parse_message(data)
        assert read_response(data).status == 200
    # read by a client: the same errors as the full parser
    for data, error in (
        (ok.replace(b"\r\nServer", b"\r\nExpires: 12x\r\nServer"), "Expires: not a number"),
        (ok.replace(b"CSeq: 1 REGISTER\r\n", b"CSeq: 1 REGISTER\r\ni: 2\r\n"),
         "Call-ID appears more than once"),
        (ok.replace(b";received=", b";rport=99999;received="), "rport: value too large"),
        (ok.replace(b"Call-ID: 0123456789abcdef01234567@telesip\r\n", b""), "missing Call-ID"),
        (ok.replace(b"Server: kam", b"Server: k\ram"), "bare CR or LF in a header"),
        (ok.replace(b"Content-Length: 0\r\n", b""), "Content-Length is mandatory"),
        (ok.replace(b"SIP/2.0 200 OK", b"REGISTER sip:x SIP/2.0"), "not a response"),
    ):  # fmt: skip
        stream = error.startswith("Content-Length")
        with pytest.raises(ParseError, match=error):
            read_response(data, is_stream=stream)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([*SEEDS, KAMAILIO_OK, KAMAILIO_401]), st.data())
def test_the_reader_reads_mutated_messages_as_the_parser(seed: bytes, data: st.DataObject) -> None:
    reads_the_same(mutate(seed, data, [b"\r\n", b"\r", b"\n", b" ", b";", b",", b":", b"v"]))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_the_reader_reads_random_bytes_as_the_parser(data: bytes) -> None:
    reads_the_same(data)
    reads_the_same(KAMAILIO_OK[:40] + data)
    reads_the_same(KAMAILIO_OK[:-4] + b"\r\n" + data + b"\r\n\r\n")


# ---------------------------------------------------------------- the REGISTER builder


def reference_register(reg: Registration, expires: int | None = None) -> bytes:
    """The REGISTER as `Registration._send` built it before (header by header): the branch is
    the registration's own prefix and the CSeq number, the cnonce drawn from its random source
    when there is a challenge to answer."""
    p = reg.params
    cseq = reg.cseq + 1
    branch = f"{reg._branch}{cseq}"
    exp = reg.expires if expires is None else expires
    aor = f"sip:{escape_user(p.user)}@{p.domain}"
    h = Headers()
    host, port = reg.local
    h.add("Via", f"SIP/2.0/{p.transport} {host}:{port};rport;branch={branch}")
    h.add("Max-Forwards", "70")
    disp = f'"{p.display_name}" ' if p.display_name else ""
    h.add("From", f"{disp}<{aor}>;tag={reg.from_tag}")
    h.add("To", f"<{aor}>")
    h.add("Call-ID", reg.call_id)
    h.add("CSeq", f"{cseq} REGISTER")
    if p.route:
        h.add("Route", f"<{p.route};lr>")
    contacts = [f"<{reg._contact_uri(reg.contact)}>" + (";expires=0" if exp == 0 else "")]
    if reg._stale_contact is not None and exp != 0:
        contacts.append(f"<{reg._contact_uri(reg._stale_contact)}>;expires=0")
    h.add("Contact", ", ".join(contacts))
    h.add("Expires", str(exp))
    h.add("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS")
    h.add("User-Agent", p.user_agent)
    if reg.digest.challenge is not None:
        cnonce = f"{reg.rng.getrandbits(64):016x}"
        h.add(*reg.digest.authorize("REGISTER", p.registrar_uri, cnonce) or ())
    return Request("REGISTER", p.registrar_uri, h).to_bytes()


users = st.text(
    alphabet=st.sampled_from("abcXYZ019-_.!~*'()&=+$,;?/ @:%é#"), min_size=1, max_size=12
)
challenges = st.one_of(
    st.none(),
    st.builds(
        Challenge,
        realm=st.sampled_from(["pbx", "example.com"]),
        nonce=st.sampled_from(["abc", "Y2xhc3NpYw"]),
        algorithm=st.sampled_from(["MD5", "MD5-SESS", "SHA-256", "SHA-512-256"]),
        qop=st.sampled_from([(), ("auth",), ("auth", "auth-int")]),
        opaque=st.sampled_from([None, "op"]),
        proxy=st.booleans(),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    user=users,
    transport=st.sampled_from(["UDP", "TCP", "TLS"]),
    display=st.sampled_from([None, "Ann", "Zoë"]),
    route=st.sampled_from([None, "sip:proxy.example.com:5070"]),
    auth_username=st.sampled_from([None, "auth-user"]),
    stale=st.sampled_from([None, ("10.0.0.9", 5062)]),
    expires=st.sampled_from([None, 0, 60]),
    challenge=challenges,
    seed=st.integers(0, 2**32),
)
def test_register_bytes_are_the_same_as_built_header_by_header(
    user: str,
    transport: str,
    display: str | None,
    route: str | None,
    auth_username: str | None,
    stale: tuple[str, int] | None,
    expires: int | None,
    challenge: Challenge | None,
    seed: int,
) -> None:
    params = RegistrationParams(
        user=user,
        domain="example.com",
        password="secret",
        registrar_uri="sip:example.com;transport=" + transport.lower(),
        transport=transport,
        auth_username=auth_username,
        expires=300,
        display_name=display,
        route=route,
    )
    regs = [
        Registration(params, local=("192.0.2.1", 5060), rng=random.Random(seed), reliable=False)
        for _ in range(2)
    ]
    for reg in regs:
        reg._stale_contact = stale
        if challenge is not None:
            reg.digest.set_challenge(challenge)
    fast, slow = regs
    for _ in range(2):  # the second request counts nonces on
        expected = reference_register(slow, expires)
        slow.cseq += 1
        fast._send(0.0, expires=expires)
        (wire,) = fast.data_to_send()
        assert wire == expected
        assert fast.tx is not None and fast.tx.request.to_bytes() == expected


def test_every_request_has_its_own_branch() -> None:
    """RFC 3261 §8.1.1.7: unique across space and time, starting with the magic cookie."""
    params = RegistrationParams(user="u", domain="example.com", password="pw",
                                registrar_uri="sip:example.com")  # fmt: skip
    rng = random.Random(7)
    branches = []
    for _ in range(500):
        reg = Registration(params, local=("192.0.2.1", 5060), rng=rng, reliable=False)
        for _ in range(3):
            reg._send(0.0)
            assert reg.tx is not None
            branches.append(reg.tx.branch)
    assert len(set(branches)) == len(branches)
    assert all(b.startswith("z9hG4bK") and b.isascii() and b.isalnum() for b in branches)


# ---------------------------------------------------------------- parameters


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="aZ0-.!%*_+`'~;=:[]@ \t\"", max_size=6),
            st.sampled_from(["", "="]),
            st.text(alphabet="aZ0-.!%*_+`'~;=:[]F@", max_size=8),
        ),
        max_size=4,
    ),
    st.sampled_from(["", ";", "x"]),
)
def test_plain_parameters_parse_as_the_general_scanner_does(
    parts: list[tuple[str, str, str]], lead: str
) -> None:
    text = lead + ";".join(n + eq + v for n, eq, v in parts) if parts else lead
    for candidate in (text, ";" + text):
        if '"' in candidate or " " in candidate or "\t" in candidate:
            continue
        try:
            expected: object = _scan_params(candidate)
        except ParseError:
            expected = ParseError
        try:
            got: object = _plain_params(candidate)
        except ParseError:
            got = ParseError
        assert got == expected, candidate


via_values = st.builds(
    lambda head, host, port, params: head + host + port + params,
    st.sampled_from(["SIP/2.0/UDP ", "SIP/2.0/tcp ", "SIP / 2.0 / TLS ", "SIP/2.0/UDP  ",
                     "SIP/2.0/", "SIP/2.1/UDP ", " SIP/2.0/WS\t", "SIP/2.0/U:DP "]),
    st.sampled_from(["127.0.0.1", "pbx.example.com", "[2001:db8::1]", "[::1", "a_b", "", "é"]),
    st.sampled_from(["", ":5060", ":65535", ":65536", ":99999", ":123456", ":", " : 5060",
                     ":5060x"]),
    st.lists(
        st.tuples(
            st.sampled_from(["branch", "rport", "RPORT", "received", "maddr", "", "a b", "é"]),
            st.sampled_from(["", "=", "=z9hG4bK1", "=5060", "=65536", "=00001", "=123456",
                             "=[::1]", '="q"', "=a=b", "=²", "= 1", "=" + "9" * 5000]),
        ),
        max_size=4,
    ).map(lambda ps: "".join(";" + n + v for n, v in ps)),
)  # fmt: skip
# a Via with a branch where an answer to us has it, and any parameters after
branched_via_values = st.builds(
    lambda value, rest: value + ";branch=z9hG4bK7" + rest,
    via_values,
    via_values.map(lambda v: v[v.index(";") :] if ";" in v else ""),
)


@settings(max_examples=1500, deadline=None)
@given(via_values, st.sampled_from(["", " ", ";", "\r\n x"]))
def test_via_values_parse_as_the_general_expression_does(value: str, tail: str) -> None:
    for candidate in (value, value + tail):
        try:
            expected: object = reference_parse_via(candidate)
        except ParseError as exc:
            expected = ("error", str(exc))
        try:
            got: object = parse_via(candidate)
        except ParseError as exc:
            got = ("error", str(exc))
        assert got == expected, candidate


@settings(max_examples=1500, deadline=None)
@example("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK7;branch", "z9hG4bK1")  # a later flag wins
@example("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK7;BRANCH=z9hG4bK7", "z9hG4bK1")  # a later value
@example("SIP/2.0/UDP 192.0.2.1:5060;rport=5060;branch=z9hG4bK7;received=192.0.2.9", "z9hG4bK1")
@given(
    branched_via_values,
    st.sampled_from(["z9hG4bK1", "z9hG4bK0123456789abcdef", "x", "z9hG4bK-1", "a:b", "", "é1"]),
)
def test_a_via_read_again_with_another_branch_parses_as_the_general_expression_does(
    value: str, branch: str
) -> None:
    """`parse_via` keeps the shape of a Via around its branch (answers to our requests repeat
    it): the same Via with another branch, read after it, gives what the general expression
    gives, parameters in the same order."""

    def outcome(candidate: str, parse: Callable[[str], Via]) -> object:
        try:
            via = parse(candidate)
        except ParseError as exc:
            return ("error", str(exc))
        return (via, list(via.params.items()))

    at = value.find(";branch=")
    end = value.find(";", at + 8)
    other = value[: at + 8] + branch + (value[end:] if end >= 0 else "")
    for candidate in (value, other, value):  # the second and third may come from the shape
        assert outcome(candidate, parse_via) == outcome(candidate, reference_parse_via), candidate


def test_an_answer_s_via_is_read_from_its_shape() -> None:
    fields._VIA_SHAPES.clear()
    first = "SIP/2.0/UDP 127.0.0.1:40000;rport=40000;branch=z9hG4bK01;received=127.0.0.1"
    parse_via(first)
    assert len(fields._VIA_SHAPES) == 1
    via = parse_via(first.replace("z9hG4bK01", "z9hG4bK02"))
    assert len(fields._VIA_SHAPES) == 1  # the same shape
    assert list(via.params.items()) == [
        ("rport", "40000"), ("branch", "z9hG4bK02"), ("received", "127.0.0.1")
    ]  # fmt: skip
    via.params["received"] = "192.0.2.1"  # a reader's change does not reach the next answer
    assert parse_via(first).received == "127.0.0.1"


# ---------------------------------------------------------------- the granted expiry

contact_values = st.one_of(
    st.builds(
        lambda uri, case, tail: f"<{uri}>;{case}={tail}",
        st.sampled_from(["sip:u1@192.0.2.1:5060", "SIP:U1@192.0.2.1:5060", "sip:u2@192.0.2.1"]),
        st.sampled_from(["expires", "EXPIRES", "expires ", "q"]),
        st.sampled_from(["300", "0", "", "99999999999999", "4294967296", "30x", "60;q=1", "K"]),
    ),
    st.text(alphabet='<>sip:u1@192.0.2.1;expires=30,"K ', max_size=40),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(contact_values, max_size=3), st.sampled_from([None, "120", "bad"]))
def test_granted_expiry_is_read_as_the_general_path_reads_it(
    contacts: list[str], expires: str | None
) -> None:
    params = RegistrationParams(
        user="u1", domain="d", password="pw", registrar_uri="sip:d", expires=600
    )
    reg = Registration(params, local=("192.0.2.1", 5060), rng=random.Random(1), reliable=False)
    h = Headers([("Contact", c) for c in contacts])
    if expires is not None and expires.isdigit():
        h.add("Expires", expires)
    resp = Response(200, "OK", h)
    got = reg._granted(resp)
    # the general path alone: a second Contact line that is not ours keeps the fast path out
    # and changes nothing else (it comes last, and malformed input fails the same way)
    general = Response(200, "OK", h.copy())
    general.headers.add("Contact", "<sip:other@192.0.2.9>")
    assert got == reg._granted(general)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x17F) | st.sampled_from("%@: ;?/$\n")))
def test_a_plain_user_part_is_recognised_as_the_character_set_says(user: str) -> None:
    """`escape_user`'s one-expression check against the unreserved set it stands for."""
    from telesip.sip.registration import _PLAIN_USER, _UNRESERVED

    assert (_PLAIN_USER.fullmatch(user) is not None) == _UNRESERVED.issuperset(user)
    assert escape_user(user) == "".join(
        c if c in _UNRESERVED else "".join(f"%{b:02X}" for b in c.encode()) for c in user
    )
