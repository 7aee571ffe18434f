"""Which event loop a telesip process runs on: uvloop when it is installed (the `uvloop` extra,
which `bin/telesip` installs), else asyncio's own. `TELESIP_EVENT_LOOP=asyncio` forces asyncio's,
`=uvloop` insists on uvloop (an error when it is missing). uvloop only changes how fast the
loop moves bytes and timers; nothing in telesip depends on which loop runs it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["loop_factory", "loop_name", "run"]

T = TypeVar("T")
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factory(choice: str | None = None) -> LoopFactory | None:
    """uvloop's loop factory, or None for asyncio's default loop."""
    choice = (choice or os.environ.get("TELESIP_EVENT_LOOP") or "auto").strip().lower()
    if choice not in ("auto", "uvloop", "asyncio"):
        raise ValueError("TELESIP_EVENT_LOOP must be auto, uvloop or asyncio")
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise RuntimeError("TELESIP_EVENT_LOOP=uvloop, but uvloop is not installed") from None
        return None
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def loop_name(choice: str | None = None) -> str:
    return "asyncio" if loop_factory(choice) is None else "uvloop"


def run(coro: Coroutine[Any, Any, T], *, choice: str | None = None) -> T:
    """`asyncio.run` on the chosen loop."""
    try:
        factory = loop_factory(choice)
    except Exception:
        coro.close()
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)
