"""Logging set up in one place, for the service and for the calls' media processes.

Two formats (``TELESIP_LOG_FORMAT``): ``text``, one readable line per record, and ``json``, one
JSON object per line with ``time``, ``level``, ``logger``, ``message`` and, where known, the
``account_id``, ``call_id``, ``worker`` and ``user_id`` (Telegram) the record is about. Those
ids come from the record's ``extra`` or from :func:`log_context`, a context variable that a
task sets once (the worker's name for everything it runs, the acting Telegram user for one
update) and every record logged inside it carries.

Invariant: no secret reaches a log line in either format. Code never logs one on purpose;
as a second line of defence every formatted line (message, exception and traceback alike)
goes through :func:`redact`, which blanks the values registered with :func:`add_secret` (the
bot token, the secret key, the Telegram API hash, a worker credential, the database URL's
password) and whatever looks like a bot token, an API key, a worker credential or a
password inside a URL.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s%(ids)s: %(message)s"

#: the ids a record may carry, in the order the text format shows them
IDS = ("worker", "account_id", "call_id", "user_id")
_CONTEXT: ContextVar[dict[str, Any] | None] = ContextVar("telesip_log_context", default=None)

_SECRETS: set[str] = set()
_PATTERNS = (
    (re.compile(r"(?<!\d)\d{5,16}:[A-Za-z0-9_-]{30,}"), "[bot token]"),  # Telegram bot tokens
    (re.compile(r"\b(tsk|tsw)_[A-Za-z0-9_-]{16,}"), r"\1_[redacted]"),  # API keys, credentials
    (re.compile(r"(?<=://)([^:/@\s]+):[^@\s/]+@"), r"\1:[redacted]@"),  # URL passwords
)
REDACTED = "[redacted]"


def add_secret(value: str | None) -> None:
    """Never show ``value`` in a log line (values shorter than 6 characters are not taken:
    blanking them would blank ordinary words)."""
    if value and len(value) >= 6:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@contextlib.contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Records logged inside (and in tasks started inside) carry these ids; ``None`` values
    are left out. Nested contexts add to the outer one."""
    token = _CONTEXT.set((_CONTEXT.get() or {}) | {k: v for k, v in ids.items() if v is not None})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def bind_log_context(**ids: Any) -> None:
    """Set ids for the rest of the current task (and the tasks it starts from now on)."""
    _CONTEXT.set((_CONTEXT.get() or {}) | {k: v for k, v in ids.items() if v is not None})


def _ids(record: logging.LogRecord) -> dict[str, Any]:
    found = dict(_CONTEXT.get() or {})
    for key in IDS:
        value = record.__dict__.get(key)
        if value is not None:
            found[key] = value
    return {k: found[k] for k in IDS if k in found}


class TextFormatter(logging.Formatter):
    """Today's text line, with the record's ids in brackets after the logger name."""

    def format(self, record: logging.LogRecord) -> str:
        ids = _ids(record)
        record.ids = (" [" + " ".join(f"{k}={v}" for k, v in ids.items()) + "]") if ids else ""
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the ids where
    known, and ``exception`` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        out.update(_ids(record))
        if record.exc_info:
            out["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exception"] = redact(record.exc_text)
        if record.stack_info:
            out["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level_name: str, *, fmt: str = _LOG_FORMAT, style: str = "text") -> None:
    """Log lines at ``level_name`` in ``style`` (``text`` with ``fmt``, or ``json``); the
    chatter of libraries only from WARNING unless the level is DEBUG: the call media library
    (ntgcalls, libwebrtc log every negotiation in full) and the HTTP client (a line per
    request: a remote worker talks to its control plane several times a second; its URLs can
    hold the bot token, which :func:`redact` blanks). aiosqlite's line per statement never."""
    level = logging.getLevelName(level_name.upper())
    if not isinstance(level, int):
        level = logging.INFO
    root = logging.getLogger()
    ours = [h for h in root.handlers if h.get_name() == "telesip"]
    if len(ours) == len(root.handlers):  # like basicConfig: a host's own handlers stay (tests)
        for old in ours:
            root.removeHandler(old)  # configured again (a command run twice): one handler
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter() if style == "json" else TextFormatter(fmt))
        handler.set_name("telesip")
        root.addHandler(handler)
        root.setLevel(level)
    for noisy in ("ntgcalls", "webrtc", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(
            logging.DEBUG if level == logging.DEBUG else logging.WARNING
        )
    logging.getLogger("aiosqlite").setLevel(max(level, logging.INFO))  # two lines per statement
