"""Typed Python clients of telesip's two HTTP APIs, written against the OpenAPI documents:

- ``TelesipClient``: the operators' API (``docs/openapi.json``);
- ``WorkerClient``: the remote workers' control plane (``docs/worker-openapi.json``), which
  ``telesip worker --control-url`` itself uses.

``models`` holds the documents' types, written by ``clients/python/generate.py`` (a test fails
while it differs from what the documents make, and each method's answer type is checked
against its operation's). Errors raise ``ProblemError`` (``Refused`` for 401/403) with the RFC
9457 problem details; transport failures raise httpx's own errors (lost answers are retried
with the same Idempotency-Key first: ``base``).
"""

from __future__ import annotations

from .base import refused_certificate
from .models import PUBLIC_OPERATIONS, WORKER_OPERATIONS
from .operator import TelesipClient
from .problems import ProblemError, Refused
from .worker import WorkerClient

__all__ = [
    "PUBLIC_OPERATIONS",
    "WORKER_OPERATIONS",
    "ProblemError",
    "Refused",
    "TelesipClient",
    "WorkerClient",
    "refused_certificate",
]
