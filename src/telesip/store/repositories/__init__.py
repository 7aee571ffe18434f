"""Repositories: every query the services run, as SQLAlchemy Core statements, one module per
aggregate: accounts, users, offers, transfers (and transfers_pg), links, audit, guesses, calls,
callers, workers, leases, webhooks, api_keys, templates, idempotency, conversations (the bot's
FSM) and stats (the gauges). The services reach them through the unit of work
(``uow.accounts``, ``uow.leases``, ...), never through SQL of their own; read models are plain
data in ``telesip.domain.readmodels``.

Hot paths (offer, receive, transfer back, listings) do each step in one statement. Row locks
use ``FOR NO KEY UPDATE`` on PostgreSQL (foreign-key checks still pass) and are no-ops on
SQLite, where ``BEGIN IMMEDIATE`` already serialises writers. Lock order, to rule out
deadlocks: at most one account row first, then at most one user row.

The names below are re-exported so that ``from telesip.store.repositories import X`` keeps
working; new code imports from the module that defines them.
"""

from telesip.store.repositories.accounts import Accounts
from telesip.store.repositories.audit import Audit
from telesip.store.repositories.guesses import Guesses
from telesip.store.repositories.links import Links
from telesip.store.repositories.offers import Offers
from telesip.store.repositories.users import Users
from telesip.store.repositories.workers import firewall_candidates, worker_live

__all__ = [
    "Accounts",
    "Audit",
    "Guesses",
    "Links",
    "Offers",
    "Users",
    "firewall_candidates",
    "worker_live",
]
