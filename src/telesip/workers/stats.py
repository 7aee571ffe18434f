"""ManagerStats: the registration manager's plain-int counters (the wire counts messages in
and out, the manager requests, answers and the bugs it caught). Read at scrape time
(workers/observe.py) and by the benchmarks; nothing resets them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ManagerStats"]


@dataclass(slots=True)
class ManagerStats:
    received: int = 0  # messages and datagrams in
    sent: int = 0
    dropped: int = 0  # malformed or hostile input, dropped
    stray: int = 0  # well-formed responses that match no transaction
    errors: int = 0  # bugs caught at the loop boundary (logged)
    sink_errors: int = 0  # the status sink raised
    register_sent: int = 0  # REGISTER requests (first sends and retransmissions)
    register_answered: int = 0  # responses that matched a registration's transaction
