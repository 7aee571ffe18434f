"""Fixtures of the Telegram side: the network namespace for ntgcalls (see netns.py)."""

from __future__ import annotations

from tests.calls.telegram.netns import netns  # noqa: F401  (the fixture, for this package)
