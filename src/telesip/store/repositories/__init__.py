"""Repositories: every query the services run, as SQLAlchemy Core statements, one module per
aggregate: accounts, users, offers, transfers (and transfers_pg), links, audit, guesses, calls,
callers, workers, leases, webhooks, api_keys, templates, idempotency, conversations (the bot's
FSM) and stats (the gauges). The services reach them through the unit of work
(``uow.accounts``, ``uow.leases``, ...), never through SQL of their own; repositories return domain
objects and read models (``telesip.domain.readmodels``), never rows.

Hot paths (offer, receive, transfer back, listings) do each step in one statement. Row locks
use ``FOR NO KEY UPDATE`` on PostgreSQL (foreign-key checks still pass) and are no-ops on
SQLite, where ``BEGIN IMMEDIATE`` already serialises writers. Lock order, to rule out
deadlocks: at most one account row first, then at most one user row.
"""
