"""Webhook delivery: signing and the dispatcher loop (the bookkeeping is in
``telesip.services.webhooks``)."""

from __future__ import annotations

from telesip.domain.webhook_signature import SIGNATURE_HEADER, new_secret, signature, verify
from telesip.webhooks.dispatcher import WebhookDispatcher

__all__ = ["SIGNATURE_HEADER", "WebhookDispatcher", "new_secret", "signature", "verify"]
