"""What a check finds, and how findings are shown: one line per check, or JSON.

A finding is ``ok``, ``warning`` (works, but something an operator should look at) or ``error``
(a part will not work); ``fix`` says what to do. No finding carries a secret: checks name the
setting, never its value (a URL is shown with its password masked).
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass


class Status(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Finding:
    check: str  # short name: "database", "secret key", "bot token", ...
    status: Status
    message: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status.value:<7} {self.check}: {self.message}"
        return f"{text} -> {self.fix}" if self.fix else text


def ok(check: str, message: str, fix: str = "") -> Finding:
    return Finding(check, Status.OK, message, fix)


def warning(check: str, message: str, fix: str = "") -> Finding:
    return Finding(check, Status.WARNING, message, fix)


def error(check: str, message: str, fix: str = "") -> Finding:
    return Finding(check, Status.ERROR, message, fix)


def failed(findings: Iterable[Finding]) -> bool:
    return any(f.status is Status.ERROR for f in findings)


def as_json(findings: list[Finding]) -> str:
    return json.dumps(
        {
            "ok": not failed(findings),
            "checks": [asdict(f) | {"status": f.status.value} for f in findings],
        },
        indent=2,
    )


def log_findings(findings: Iterable[Finding], log: logging.Logger) -> None:
    """At start: warnings and errors in the log (an ok is said at DEBUG)."""
    level = {Status.OK: logging.DEBUG, Status.WARNING: logging.WARNING, Status.ERROR: logging.ERROR}
    for f in findings:
        log.log(level[f.status], "check %s", f.line())


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
