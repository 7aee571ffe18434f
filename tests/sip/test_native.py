"""The SIP core compiled with mypyc (telesip/native.py) against the same sources run by the
interpreter, on the same inputs.

Every other test in tests/sip runs against whatever `import telesip.sip` loads: the compiled
modules when bin/_bootstrap built them (CI does). Here one script runs twice, once compiled
and once pure (`TELESIP_NATIVE=0`), and both must print the same thing, message for message:
the RFC 4475 corpus and 3,000 seeded mutations of it and of registrar answers read by
`parse_message` and `read_response` (message or error), digest responses for every algorithm
and qop, and registrations driven through challenges, 423, refreshes, a NAT rebind, failures
and an un-REGISTER with a seeded random source (every byte sent, every status)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from telesip.sip import compiled

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import random, sys
from pathlib import Path
import telesip.workers  # the registrar's compiled modules load with it
from telesip.sip import compiled, parse_message, read_response, ParseError, Response, Request
from telesip.sip import Registration, RegistrationParams, RegistrationPolicy, parse_challenge
from telesip.sip.auth import DigestState, digest_response

print("loaded", sorted(compiled.loaded().items()))
out = []
def emit(*parts):
    out.append(repr(parts))

def outcome(parse, data, **kw):
    try:
        msg = parse(data, **kw)
    except ParseError as exc:
        return ("error", type(exc).__name__, str(exc))
    items = list(msg.headers._items)
    if isinstance(msg, Response):
        return ("resp", msg.status, msg.reason, items, msg.body, msg.top_via)
    return ("req", msg.method, msg.uri, items, msg.body)

OK = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:40000;rport=40000;branch=z9hG4bKab;"
      b"received=127.0.0.1\r\nFrom: <sip:b1@127.0.0.1>;tag=1\r\nTo: <sip:b1@127.0.0.1>;tag=2\r\n"
      b"Call-ID: c@telesip\r\nCSeq: 1 REGISTER\r\nContact: <sip:b1@127.0.0.1:40000>;expires=300\r\n"
      b"Content-Length: 0\r\n\r\n")
seeds = [p.read_bytes() for p in sorted(Path(sys.argv[1]).rglob("*.sip"))] + [OK]
rng = random.Random(4475)
pieces = [b"\r\n", b":", b";", b",", b" ", b"\t", b"\r\n ", b"Via: SIP/2.0/UDP x", b"\xff", b"0"]
inputs = list(seeds)
for _ in range(3000):
    buf = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, 6)):
        i = rng.randrange(len(buf) + 1)
        k = rng.random()
        if k < 0.4 and buf:
            buf[min(i, len(buf) - 1)] = rng.randrange(256)
        elif k < 0.7:
            del buf[i:i + rng.randint(1, 8)]
        else:
            buf[i:i] = rng.choice(pieces)
    inputs.append(bytes(buf))
for data in inputs:
    emit(outcome(parse_message, data), outcome(parse_message, data, is_stream=True),
         outcome(read_response, data))

for alg in ("MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256"):
    for qop in ("", ', qop="auth"', ', qop="auth,auth-int"'):
        ch = parse_challenge(f'Digest realm="r", nonce="n{alg}", algorithm={alg}{qop}', proxy=False)
        emit(digest_response(ch, username="u", password="p\u00e9", method="REGISTER",
                             uri="sip:r", cnonce="0a4f113b", nc=3))
        state = DigestState("u", "p")
        state.set_challenge(ch)
        emit(state.authorize("REGISTER", "sip:r", "c1"), state.authorize("REGISTER", "sip:r", "c2"))

def answer(wire, status, reason, extra=b""):
    head = wire.split(b"\r\n\r\n")[0].split(b"\r\n")
    names = (b"Via", b"From", b"To", b"Call-ID", b"CSeq")
    keep = [line for line in head[1:] if line.split(b":")[0] in names]
    return read_response(b"SIP/2.0 %d %s\r\n" % (status, reason) + b"\r\n".join(keep)
                         + b"\r\n" + extra + b"Content-Length: 0\r\n\r\n")

CHALLENGE = b'WWW-Authenticate: Digest realm="pbx", nonce="abc", qop="auth"\r\n'
for seed in range(40):
    r = random.Random(seed)
    params = RegistrationParams(f"u{seed}", "pbx.example", "secret", "sip:pbx.example:5060",
                                expires=r.choice([60, 300, 3600]))
    reg = Registration(params, local=("192.0.2.1", 5060), rng=random.Random(seed),
                       reliable=False, policy=RegistrationPolicy(t1=0.5))
    now = 100.0
    reg.start(now)
    for step in range(12):
        sent = reg.data_to_send()
        emit(seed, step, sent, reg.events(), reg.get_timer(), reg.status)
        if not sent:
            t = reg.get_timer()
            if t is None:
                break
            now = t
            reg.handle_timer(now)
            continue
        choice = r.choice(["ok", "ok", "401", "423", "503", "403", "nat", "lost"])
        wire = sent[-1]
        if choice == "lost":
            now += 0.5
            reg.handle_timer(now)
            continue
        if choice == "ok":
            contact = wire.split(b"Contact: ")[1].split(b"\r\n")[0]
            resp = answer(wire, 200, b"OK", b"Contact: " + contact + b";expires=120\r\n")
        elif choice == "401":
            resp = answer(wire, 401, b"Unauthorized", CHALLENGE)
        elif choice == "423":
            resp = answer(wire, 423, b"Interval Too Brief", b"Min-Expires: 900\r\n")
        elif choice == "503":
            resp = answer(wire, 503, b"Service Unavailable", b"Retry-After: 30\r\n")
        elif choice == "403":
            resp = answer(wire, 403, b"Forbidden")
        else:
            text = answer(wire, 200, b"OK").to_bytes()
            resp = read_response(text.replace(b";branch=", b";received=198.51.100.7;branch="))
        reg.receive_response(resp, now)
        if step == 9:
            reg.stop(now)
    emit(seed, "end", reg.data_to_send(), reg.events(), reg.status, reg.done)
print("\n".join(out))
"""


def run(native: bool) -> tuple[str, str]:
    env = {**os.environ, "TELESIP_NATIVE": "1" if native else "0", "PYTHONHASHSEED": "0"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ROOT / "tests" / "sip" / "data" / "torture")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, _, rest = proc.stdout.partition("\n")
    return first, rest


def test_the_compiled_core_is_what_runs_when_it_is_built() -> None:
    import telesip.workers  # noqa: F401 - the imports of telesip.sip and telesip.workers decide

    if compiled.state() != "fresh":
        pytest.skip(
            f"the SIP core is not compiled here ({compiled.state()}): "
            "`python -m telesip.native build` needs mypy and a C compiler"
        )
    assert all(compiled.loaded().values()), compiled.loaded()


def test_compiled_and_pure_cores_give_the_same_results() -> None:
    if compiled.state() != "fresh":
        pytest.skip(f"no compiled SIP core to compare ({compiled.state()})")
    loaded_native, native = run(True)
    loaded_pure, pure = run(False)
    assert "False" not in loaded_native and "True" not in loaded_pure
    lines = native.count("\n")
    assert lines > 3000  # the inputs above, one line each
    assert "('resp', 200" in native and "'error'" in native  # both outcomes are exercised
    assert "registered" in native and "auth_failed" in native and "disabled" in native
    if native != pure:  # name the first difference
        for a, b in zip(native.splitlines(), pure.splitlines(), strict=False):
            assert a == b
    assert hashlib.sha256(native.encode()).digest() == hashlib.sha256(pure.encode()).digest()


def test_a_stale_or_disabled_build_is_never_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """An edited source makes the stamp disagree, and TELESIP_NATIVE=0 turns it off: either
    way the package path is left alone and the pure modules load."""
    if compiled.state() != "fresh":
        pytest.skip(f"no compiled SIP core ({compiled.state()})")
    # a second copy of the loader (the package's own has already decided for this process)
    spec = importlib.util.spec_from_file_location("loader_copy", compiled.__file__)
    assert spec is not None and spec.loader is not None
    loader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loader)
    path: list[str] = []
    assert loader.use(path) and path == [str(compiled.compiled_dir())]
    real = loader.fingerprint()
    edited = {**real, "sources": {**real["sources"], "telesip.sip.message": "0" * 64}}
    monkeypatch.setattr(loader, "fingerprint", lambda: edited)
    path = []
    assert loader.state() == "stale" and not loader.use(path) and path == []
    monkeypatch.setattr(loader, "fingerprint", lambda: real)
    monkeypatch.setenv("TELESIP_NATIVE", "0")
    assert loader.state() == "off" and not loader.use(path) and path == []


@pytest.mark.parametrize("buffered", [False, True])
def test_status_into_a_closed_pipe_ends_without_a_traceback(buffered: bool) -> None:
    """`python -m telesip.native status | head -1`: the reader has gone before the output is
    written (a pipe whose read end is already closed, so every write fails), with stdout
    unbuffered as in CI and buffered as in a terminal session's pipe."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "telesip.native", "status"],
            cwd=ROOT, env=env, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode == 141  # as a shell shows a command ended by SIGPIPE
