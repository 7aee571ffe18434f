"""Which event loop a telesip process runs on: uvloop when it is installed (the `uvloop` extra,
which `bin/telesip` installs), else asyncio's own. `TELESIP_EVENT_LOOP=asyncio` forces asyncio's,
`=uvloop` insists on uvloop (an error when it is missing). uvloop only changes how fast the
loop moves bytes and timers; nothing in telesip depends on which loop runs it.

`tune_gc` sets the garbage collector for a long-running command before it starts: the objects
made by importing are frozen out of every collection, and the young generation is collected
less often than CPython's every 700 net allocations. A process that holds a large live heap (a
worker: a dozen objects per account it keeps registered; `telesip run`, which holds one) takes
`GC_THRESHOLDS`; the bot and the API, which make many objects per request and keep few (the
bot's /softphone and the API's listings: ~20,000 for a thousand accounts), take
`GC_REQUEST_THRESHOLDS`, whose collections are shorter (docs/benchmarks.md, session 10)."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["GC_REQUEST_THRESHOLDS", "GC_THRESHOLDS", "loop_factory", "loop_name", "run", "tune_gc"]

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


#: (young, middle, old) collection thresholds of `tune_gc`: a young collection every 50,000 net
#: allocations of tracked objects instead of CPython's 700.
GC_THRESHOLDS = (50_000, 20, 20)

#: The bot's and the API's thresholds: a young collection every 10,000 net allocations. A
#: request's objects are mostly freed as it ends (reference counting lowers the count again),
#: so a collection is rare either way, but when one comes it walks up to that many objects on
#: the loop: 50,000 took 21-33 ms of CPU, 10,000 at most 3-10 ms, with no more CPU in all;
#: CPython's 700 (after the freeze) is at most 1-4 ms a collection but thousands of them, 5-8 %
#: of the CPU of a /softphone or a listing (docs/benchmarks.md, 2026-12-07 session 10).
GC_REQUEST_THRESHOLDS = (10_000, 10, 10)


def tune_gc(thresholds: tuple[int, int, int] = GC_THRESHOLDS) -> None:
    """Make the cyclic garbage collector cheap for a process that holds many long-lived objects.

    With CPython's defaults a worker registering 50,000 accounts spent about a quarter of its
    CPU in the collector (docs/benchmarks.md, 2026-12-07 session 8): every young collection
    walks what was allocated since the last one, and the full collections, due each time the
    survivors grow by a quarter, walk every account's objects again and again while they are
    being made. Here the objects made by importing (modules, classes, functions: never garbage)
    are frozen out of every collection, and the young generation is collected every
    ``thresholds[0]`` net allocations (`GC_THRESHOLDS` by default; the bot and the API take
    `GC_REQUEST_THRESHOLDS`). Reference cycles are still collected, later: at most that many
    young objects wait for it, a few MiB. Idempotent; changes only this process."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)


def run(coro: Coroutine[Any, Any, T], *, choice: str | None = None) -> T:
    """`asyncio.run` on the chosen loop."""
    try:
        factory = loop_factory(choice)
    except Exception:
        coro.close()
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)
