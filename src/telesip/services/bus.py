"""In-process message bus: domain events go to subscribers after the transaction commits.

A subscriber that fails is logged and skipped; it never fails the operation that caused the
event (a lost notification is better than a lost transfer). Subscribers that do network I/O
(bot notifications, webhooks) queue the work and return at once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence

from telesip.domain.events import Event

log = logging.getLogger(__name__)
Handler = Callable[[Event], Awaitable[None]]


class MessageBus:
    def __init__(self) -> None:
        self._handlers: dict[type[Event], list[Handler]] = defaultdict(list)
        self._all: list[Handler] = []

    def subscribe(self, event_type: type[Event] | None, handler: Handler) -> None:
        """``None`` subscribes to every event."""
        if event_type is None:
            self._all.append(handler)
        else:
            self._handlers[event_type].append(handler)

    async def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            for handler in (*self._handlers.get(type(event), ()), *self._all):
                try:
                    await handler(event)
                except Exception:
                    log.exception("event handler %r failed on %s", handler, type(event).__name__)
