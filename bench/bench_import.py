"""Import parsing cost: 10,000 accounts in each format (telesip's CSV, FreePBX's export,
pjsip.conf, sip.conf) generated in memory, then parse -> validate -> plan timed, with half of
them already existing (so the plan compares as well as classifies) and the peak memory the
three steps allocate (tracemalloc: Python objects only).

    .venv/bin/python bench/bench_import.py [--rows 10000] [--repeat 3]

The database side (reading existing accounts, writing the plan) is the import use case's and
is measured with it.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import time
import tracemalloc
from collections.abc import Callable

from telesip.domain.settings import Secret
from telesip.importing import ExistingAccount, ImportPlan, parse, plan, validate

SERVER = "pbx.example.com"


def csv_file(rows: int) -> bytes:
    lines = ["login;password;server;port;transport;display_name"]
    lines += [f'{1000 + n};"p{n};x,y""z";{SERVER};5060;udp;Desk {n}' for n in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def freepbx_file(rows: int) -> bytes:
    header = (
        "extension,password,name,voicemail,ringtimer,noanswer,recording,outboundcid,sipname,"
        "mohclass,id,tech,dial,devicetype,user,description,callerid,context,dtmfmode,host,"
        "mailbox,max_contacts,port,qualifyfreq,secret,sipdriver,transport,callwaiting_enable"
    )
    body = [
        f'{1000 + n},,"Desk {n}",default,0,,,,,default,{1000 + n},pjsip,PJSIP/{1000 + n},fixed,'
        f'{1000 + n},"Desk {n}","Desk {n} <{1000 + n}>",from-internal,rfc4733,dynamic,'
        f"{1000 + n}@device,1,5060,60,s3cret{n},chan_pjsip,0.0.0.0-udp,ENABLED"
        for n in range(rows)
    ]
    return ("\n".join([header, *body]) + "\n").encode()


def pjsip_file(rows: int) -> bytes:
    parts = [
        "[transport-udp]\ntype=transport\nprotocol=udp\nbind=0.0.0.0:5060\n",
        "[ep](!)\ntype=endpoint\ncontext=from-internal\ndisallow=all\nallow=alaw\n",
        "[au](!)\ntype=auth\nauth_type=userpass\n",
        "[ao](!)\ntype=aor\nmax_contacts=1\n",
    ]
    for n in range(rows):
        ext = 1000 + n
        parts.append(
            f'[{ext}](ep)\nauth={ext}\naors={ext}\ncallerid="Desk {n}" <{ext}>\n'
            f"[{ext}](au)\nusername={ext}\npassword=s3cret{n}\n[{ext}](ao)\n"
        )
    return "\n".join(parts).encode()


def sip_file(rows: int) -> bytes:
    parts = ["[general]\nbindport=5060\n", "[phone](!)\ntype=friend\nhost=dynamic\n"]
    parts += [f"[{1000 + n}](phone)\nsecret=s3cret{n}\ncallerid=Desk {n}\n" for n in range(rows)]
    return "\n".join(parts).encode()


def fingerprint(password: Secret) -> str:
    return hashlib.blake2b(password.reveal().encode(), digest_size=16).hexdigest()


def run(data: bytes, existing: list[ExistingAccount]) -> ImportPlan:
    parsed = parse(io.BytesIO(data), server_given=True)
    return plan(validate(parsed, server=SERVER), existing, fingerprint)


def existing_half(data: bytes) -> list[ExistingAccount]:
    """Half of the file's accounts as if imported before, every tenth with another password."""
    first = run(data, [])
    out = []
    for n, row in enumerate(p.row for p in first.new if p.row is not None):
        if n % 2:
            continue
        settings = row.settings
        password = Secret("old") if n % 10 == 0 else settings.password
        out.append(
            ExistingAccount(n, settings.identity, fingerprint(password), settings.public_dict())
        )
    return out


def measure(name: str, make: Callable[[int], bytes], rows: int, repeat: int) -> None:
    data = make(rows)
    existing = existing_half(data)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = run(data, existing)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    run(data, existing)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    c = result.counts
    assert c.errors == 0 and c.new + c.changed + c.identical == rows, (name, c)
    best, median = min(times), statistics.median(times)
    print(
        f"{name:<9} {rows} rows, {len(data) / 1e6:5.2f} MB: best {best * 1000:7.1f} ms "
        f"(median {median * 1000:7.1f} ms, {rows / best:8.0f} rows/s), "
        f"peak {peak / 1e6:5.1f} MB; {c.new} new, {c.changed} changed, {c.identical} identical"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for name, make in (
        ("csv", csv_file),
        ("freepbx", freepbx_file),
        ("pjsip", pjsip_file),
        ("sip.conf", sip_file),
    ):
        measure(name, make, args.rows, args.repeat)


if __name__ == "__main__":
    main()
