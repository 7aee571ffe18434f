"""SQL conditions on the workers table shared by the account card and the fleet."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_

from telesip.store import tables as t


def worker_live(live_after: Any) -> Any:
    """SQL condition: the ``t.workers`` row is alive (not revoked, running, seen after
    ``live_after``: a value or a bound parameter)."""
    w = t.workers
    return and_(w.c.revoked_at.is_(None), w.c.instance.is_not(None), w.c.last_seen > live_after)


def firewall_candidates(w: Any, pin: Any, owner_id: Any) -> Any:
    """SQL condition: a row of ``w`` (the workers table or an alias) that may register an
    account pinned to ``pin`` (its name or pool; a worker made in the bot serves only its
    owner's accounts) or, unpinned, any shared local worker. ``pin`` and ``owner_id`` are
    columns or literals."""
    pinned = and_(pin.is_not(None), pin != "")
    return and_(
        w.c.revoked_at.is_(None),
        or_(
            and_(
                pinned,
                or_(w.c.name == pin, w.c.pool == pin),
                or_(w.c.owner_id.is_(None), w.c.owner_id == owner_id),
            ),
            and_(~pinned, w.c.shared, ~w.c.remote),
        ),
    )
