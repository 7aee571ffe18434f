"""Stateless answers to requests that reach a registered account (RFC 3261 §8.2.6).

Until calls exist: OPTIONS gets 200 (it is also how registrars and proxies probe us),
INVITE gets 480 Temporarily Unavailable, ACK gets nothing, anything else 405 with Allow.
"""

from __future__ import annotations

from .message import Headers, Request, Response

__all__ = ["ALLOW", "respond"]

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS"


def respond(request: Request, *, tag: str, user_agent: str = "telesip") -> Response | None:
    if request.method == "ACK":
        return None
    if request.method == "OPTIONS":
        status, reason = 200, "OK"
    elif request.method == "INVITE":
        status, reason = 480, "Temporarily Unavailable"
    elif request.method in ("BYE", "CANCEL"):
        status, reason = 481, "Call/Transaction Does Not Exist"
    else:
        status, reason = 405, "Method Not Allowed"
    h = Headers()
    for via in request.headers.get_all("Via"):
        h.add("Via", via)
    h.add("From", request.headers.get("From") or "")
    to = request.headers.get("To") or ""
    h.add("To", to if ";tag=" in to.replace(" ", "") else f"{to};tag={tag}")
    h.add("Call-ID", request.headers.get("Call-ID") or "")
    h.add("CSeq", request.headers.get("CSeq") or "")
    h.add("Allow", ALLOW)
    h.add("Server", user_agent)
    if status == 200:
        h.add("Accept", "application/sdp")
    return Response(status, reason, h)
