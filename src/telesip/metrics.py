"""Prometheus metrics shared by every part of the process (exposed by the API at /metrics).

Gauges that describe stored state (accounts by registration state, pending offers) are read
from the database when /metrics is scraped; counters here count what this process did.
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
DOMAIN_ERRORS = Counter(
    "telesip_domain_errors_total", "Rule errors returned to people and clients", ["code", "via"]
)
INTERNAL_ERRORS = Counter("telesip_internal_errors_total", "Unexpected errors", ["via"])
WEBHOOK_DELIVERIES = Counter(
    "telesip_webhook_deliveries_total", "Webhook delivery attempts", ["outcome"]
)
SIP_DROPPED = Counter("telesip_sip_dropped_total", "Malformed or unexpected SIP messages dropped")
API_REQUESTS = Counter(
    "telesip_api_requests_total", "HTTP API requests", ["method", "route", "status"]
)
