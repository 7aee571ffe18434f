"""The bot's conversations kept in the service's database (the single-box install; several
bot processes keep them in Redis instead): read one, write its state, its data or both, one
short transaction each. ``StorageUnavailable`` when the database is away.
"""

from __future__ import annotations

from typing import Any

from telesip.services.dependencies import Dependencies

_KEEP: Any = object()  # "leave as stored"


async def load(deps: Dependencies, key: str) -> tuple[str | None, dict[str, Any]]:
    """The conversation's state and data ((None, {}) when there is none)."""
    async with deps.uow(readonly=True) as uow:
        found = await uow.conversations.get(key)
    return (None, {}) if found is None else found


async def save(
    deps: Dependencies, key: str, *, state: Any = _KEEP, data: Any = _KEEP
) -> tuple[str | None, dict[str, Any]]:
    """Write the state, the data or both (what is not given stays as stored); returns what
    is stored now."""
    async with deps.uow() as uow:
        if state is _KEEP or data is _KEEP:
            stored_state, stored_data = await uow.conversations.get(key) or (None, {})
            if state is _KEEP:
                state = stored_state
            if data is _KEEP:
                data = stored_data
        await uow.conversations.put(key, state, data, uow.now)
        await uow.commit()
    return state, dict(data or {})
