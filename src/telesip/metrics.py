"""Prometheus counters of what this process did, shared by every part of it.

Served at /metrics by the API and by ``telesip.health.probes_server``. Gauges are computed at
scrape time instead: stored state (accounts by registration state, pending offers) from the
database by the API, a worker's and the bot's own state by their collectors (``telesip.health``).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

BOT_UPDATES = Counter("telesip_bot_updates_total", "Telegram updates handled", ["kind"])
BOT_UPDATE_SECONDS = Histogram(
    "telesip_bot_update_seconds",
    "Time to handle one Telegram update",
    ["kind"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
BOT_SEND_FAILURES = Counter(
    "telesip_bot_send_failures_total", "Bot API calls that failed after retries", ["method"]
)
BOT_RETRY_AFTER = Counter(
    "telesip_bot_retry_after_received_total",
    "Bot API answers 429 (Too Many Requests: retry after)",
    ["method"],
)
BOT_QUEUED = Counter(
    "telesip_bot_limiter_queued_total",
    "Messages the rate limiter held back for their turn (Telegram's limits): waited in the "
    "process, or deferred to the database outbox (what would hold a handler too long)",
    ["how"],
)
DOMAIN_ERRORS = Counter(
    "telesip_domain_errors_total", "Rule errors returned to people and clients", ["code", "via"]
)
INTERNAL_ERRORS = Counter("telesip_internal_errors_total", "Unexpected errors", ["via"])
WEBHOOK_DELIVERIES = Counter(
    "telesip_webhook_deliveries_total", "Webhook delivery attempts", ["outcome"]
)
DB_UNREACHABLE = Counter(
    "telesip_database_unreachable_total",
    "Tries that found the database unreachable (workers retry with backoff and jitter)",
    ["via"],
)
DB_RECONNECTS = Counter(
    "telesip_database_reconnects_total", "Times the database answered again after failing", ["via"]
)
SIP_DROPPED = Counter("telesip_sip_dropped_total", "Malformed or unexpected SIP messages dropped")
API_REQUESTS = Counter(
    "telesip_api_requests_total", "HTTP API requests", ["method", "route", "status"]
)
