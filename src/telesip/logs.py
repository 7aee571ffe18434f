"""Logging set up in one place, for the service and for the calls' media processes."""

from __future__ import annotations

import logging

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level_name: str, *, fmt: str = _LOG_FORMAT) -> None:
    """Log lines at ``level_name``; the chatter of libraries only from WARNING unless the level
    is DEBUG: the call media library (ntgcalls, libwebrtc log every negotiation in full) and
    the HTTP client (a line per request: a remote worker talks to its control plane several
    times a second)."""
    level = logging.getLevelName(level_name.upper())
    if not isinstance(level, int):
        level = logging.INFO
    logging.basicConfig(level=level, format=fmt)
    for noisy in ("ntgcalls", "webrtc", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(
            logging.DEBUG if level == logging.DEBUG else logging.WARNING
        )
