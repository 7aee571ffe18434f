"""What the operator's gauges show of the stored state (``/metrics``): accounts by
registration state and by payer, pending offers, webhook deliveries by state. One unit of
work per scrape, a grouped count each.
"""

from __future__ import annotations

from dataclasses import dataclass

from telesip.services.dependencies import Dependencies


@dataclass(frozen=True)
class StoredState:
    accounts_by_reg_state: dict[str, int]
    accounts_by_payer: dict[str, int]
    offers_pending: int
    deliveries_by_state: dict[str, int]


async def stored_state(deps: Dependencies) -> StoredState:
    async with deps.uow() as uow:
        return StoredState(
            await uow.stats.accounts_by_reg_state(),
            await uow.stats.accounts_by_payer(),
            await uow.stats.pending_offers(uow.now),
            await uow.webhooks.delivery_counts(),
        )
