"""SIPp scenarios of the far phone, written for each test: it calls a line (and hangs up, is hung
up on, is refused, or cancels), or it takes a call dialled from Telegram. Media go to the test's
own RTP endpoint (its port is put in the SDP); SIPp does the signalling only."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

_HEAD = '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="{name}">\n'
_FROM = '"Far phone" <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]'
# one branch for the INVITE, its CANCEL and the ACK of a failure: they share the transaction
_BRANCH = "z9hG4bK-far-[pid]-[call_number]"

_SDP = """v=0
o=sipp 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio {port} RTP/AVP 8 0 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20"""


def _send(text: str, retrans: bool = True) -> str:
    attr = ' retrans="500"' if retrans else ""
    return f"  <send{attr}>\n    <![CDATA[\n{text}\n    ]]>\n  </send>\n"


def _request(method: str, uri: str, cseq: str, *, extra: str = "", body: str = "") -> str:
    lines = [
        f"{method} {uri} SIP/2.0",
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch="
        + (_BRANCH if method in ("INVITE", "CANCEL") else "[branch]"),
        *([extra] if extra else []),
        f"From: {_FROM}",
        "To: <sip:[service]@[remote_ip]:[remote_port]>"
        if method in ("INVITE", "CANCEL")
        else "[last_To:]",
        "Call-ID: [call_id]",
        f"CSeq: {cseq}",
        "Contact: <sip:sipp@[local_ip]:[local_port]>",
        "Max-Forwards: 70",
    ]
    if body:
        lines += ["Content-Type: application/sdp", "Content-Length: [len]", "", body]
    else:
        lines += ["Content-Length: 0"]
    return "\n".join(lines)


def far_calls(rtp_port: int, ending: str, *, talk_ms: int = 4000, media: str | None = None) -> str:
    """The far phone calls the line ([service]). ``ending``: ``hangs-up`` (BYE after
    ``talk_ms``), ``hung-up`` (waits for our BYE), ``refused:<status>``, ``cancels``."""
    invite_uri = "sip:[service]@[remote_ip]:[remote_port]"
    out = _HEAD.format(name=f"far phone calls, {ending}")
    sdp = _SDP.format(port=rtp_port)
    if media is not None:  # another offer (codecs nobody shares, say)
        sdp = sdp[: sdp.index("m=audio")] + media.format(port=rtp_port)
    out += _send(_request("INVITE", invite_uri, "1 INVITE", body=sdp))
    out += '  <recv response="100" optional="true"/>\n'
    if ending == "cancels":
        out += '  <recv response="180"/>\n  <pause milliseconds="800"/>\n'
        out += _send(_request("CANCEL", invite_uri, "1 CANCEL"))
        # the proxy's 200 to the CANCEL and the line's 487 may cross
        out += '  <recv response="200" optional="true"/>\n  <recv response="487"/>\n'
        out += _send(_ack_failure(invite_uri), retrans=False)
        return out + "</scenario>\n"
    if ending.startswith("refused:"):
        status = ending.split(":", 1)[1]
        out += '  <recv response="180" optional="true"/>\n'
        out += f'  <recv response="{status}" timeout="60000"/>\n'
        out += _send(_ack_failure(invite_uri), retrans=False)
        return out + "</scenario>\n"
    out += '  <recv response="180" optional="true"/>\n'
    out += '  <recv response="200" rrs="true" timeout="30000"/>\n'
    ack = _request("ACK", "[next_url]", "1 ACK", extra="[routes]")
    out += _send(ack, retrans=False)
    if ending == "hangs-up":
        out += f'  <pause milliseconds="{talk_ms}"/>\n'
        out += _send(_request("BYE", "[next_url]", "2 BYE", extra="[routes]"))
        out += '  <recv response="200"/>\n'
    else:
        out += '  <recv request="BYE" timeout="30000"/>\n'
        out += _send(_ok(), retrans=False)
    return out + "</scenario>\n"


def _ack_failure(uri: str) -> str:
    return "\n".join(
        [
            f"ACK {uri} SIP/2.0",
            f"Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={_BRANCH}",
            f"From: {_FROM}",
            "[last_To:]",
            "Call-ID: [call_id]",
            "CSeq: 1 ACK",
            "Max-Forwards: 70",
            "Content-Length: 0",
        ]
    )


def _ok() -> str:
    return "\n".join(
        [
            "SIP/2.0 200 OK",
            "[last_Via:]",
            "[last_From:]",
            "[last_To:]",
            "[last_Call-ID:]",
            "[last_CSeq:]",
            "Content-Length: 0",
        ]
    )


def far_answers(
    rtp_port: int,
    *,
    hang_up_after_ms: int | None = None,
    ring_ms: int = 300,
    held_and_resumed: bool = False,
    refuses_hold: bool = False,
    media: str | None = None,
) -> str:
    """The far phone takes a call: 180, 200 with SDP, then waits for BYE (or sends one).
    ``held_and_resumed``: before the BYE it takes a re-INVITE that must say ``a=sendonly``
    (answered ``a=recvonly``), then one that must say ``a=sendrecv``. ``refuses_hold``: it
    answers that first re-INVITE 488 instead. ``media``: another m= section for the answer
    (``{port}`` is the RTP port)."""
    out = _HEAD.format(name="far phone answers")
    if hang_up_after_ms is None:
        out += '  <recv request="INVITE" crlf="true" rrs="true" timeout="30000"/>\n'
    else:  # keep the caller's tag for our BYE's To (SIPp refuses an unused variable)
        out += (
            '  <recv request="INVITE" crlf="true" rrs="true" timeout="30000">\n'
            '    <action><ereg regexp="tag=[^;>]*" search_in="hdr" header="From:"'
            ' assign_to="ftag"/></action>\n'
            "  </recv>\n"
        )
    head = "\n".join(
        [
            "[last_Via:]",
            "[last_From:]",
            "[last_To:];tag=[pid]SIPpTag01[call_number]",
            "[last_Call-ID:]",
            "[last_CSeq:]",
            "[last_Record-Route:]",
            "Contact: <sip:far@[local_ip]:[local_port]>",
        ]
    )
    out += _send(f"SIP/2.0 180 Ringing\n{head}\nContent-Length: 0", retrans=False)
    out += f'  <pause milliseconds="{ring_ms}"/>\n'
    sdp = _SDP.format(port=rtp_port)
    if media is not None:
        sdp = sdp[: sdp.index("m=audio")] + media.format(port=rtp_port)
    out += _send(
        f"SIP/2.0 200 OK\n{head}\nContent-Type: application/sdp\nContent-Length: [len]\n\n{sdp}"
    )
    out += '  <recv request="ACK" crlf="true"/>\n'
    if held_and_resumed:
        for n, (offered, answered) in enumerate(
            (("sendonly", "recvonly"), ("sendrecv", "sendrecv"))
        ):
            out += (
                '  <recv request="INVITE" timeout="30000">\n'
                f'    <action><ereg regexp="a={offered}" search_in="body" check_it="true"'
                f' assign_to="reinvite{n}"/></action>\n'
                "  </recv>\n"
            )
            body = _SDP.replace("2353687637", f"235368763{8 + n}").format(port=rtp_port)
            body += f"\na={answered}"
            reply = "\n".join(
                [
                    "SIP/2.0 200 OK",
                    "[last_Via:]",
                    "[last_From:]",
                    "[last_To:]",
                    "[last_Call-ID:]",
                    "[last_CSeq:]",
                    "Contact: <sip:far@[local_ip]:[local_port]>",
                    f"X-Offered: [$reinvite{n}]",  # SIPp refuses a variable it never uses
                    "Content-Type: application/sdp",
                    "Content-Length: [len]",
                    "",
                    body,
                ]
            )
            out += _send(reply)
            out += '  <recv request="ACK" crlf="true"/>\n'
    if refuses_hold:
        out += '  <recv request="INVITE" timeout="30000"/>\n'
        refusal = "\n".join(
            [
                "SIP/2.0 488 Not Acceptable Here",
                *("[last_Via:]", "[last_From:]", "[last_To:]", "[last_Call-ID:]", "[last_CSeq:]"),
                "Content-Length: 0",
            ]
        )
        out += _send(refusal)
        out += '  <recv request="ACK" crlf="true"/>\n'
    if hang_up_after_ms is None:
        out += '  <recv request="BYE" timeout="30000"/>\n'
        out += _send(_ok(), retrans=False)
    else:
        out += f'  <pause milliseconds="{hang_up_after_ms}"/>\n'
        bye = "\n".join(
            [
                "BYE [next_url] SIP/2.0",
                "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
                "[routes]",
                "From: <sip:far@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]",
                "To: <sip:[service]@[remote_ip]>;[$ftag]",
                "Call-ID: [call_id]",
                "CSeq: 1 BYE",
                "Max-Forwards: 70",
                "Content-Length: 0",
            ]
        )
        out += _send(bye)
        out += '  <recv response="200"/>\n'
    return out + "</scenario>\n"


@dataclass
class Sipp:
    proc: asyncio.subprocess.Process
    log: Path

    async def done(self, within: float = 40.0) -> int:
        async with asyncio.timeout(within):
            return await self.proc.wait()

    def errors(self) -> str:
        return "\n".join(p.read_text()[-3000:] for p in self.log.parent.glob("*_errors.log"))


async def run_sipp(
    sipp: str, tmp: Path, scenario: str, *, port: int, remote: str | None, service: str = "100"
) -> Sipp:
    path = tmp / f"scenario-{port}.xml"
    path.write_text(scenario)
    args = [sipp, "-sf", str(path), "-i", "127.0.0.1", "-p", str(port), "-m", "1"]
    args += [
        "-s",
        service,
        "-nostdin",
        "-trace_err",
        "-trace_msg",
        "-timeout",
        "45s",
        "-timeout_error",
    ]
    if remote is not None:
        args.append(remote)
    log = tmp / f"sipp-{port}.out"
    out = log.open("wb")
    proc = await asyncio.create_subprocess_exec(*args, stdout=out, stderr=out, cwd=str(tmp))
    return Sipp(proc, log)
