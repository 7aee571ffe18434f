"""What both clients share: one ``httpx.AsyncClient``, an operation table from the documents
(operationId -> method, path template), problems raised as ``ProblemError``, and retries.

Every POST carries an ``Idempotency-Key`` (a new UUID unless the caller gives one), and a
request whose answer was lost (a transport failure: refused connection, timeout, a dropped
connection) is sent again up to ``retries`` times with the same key, so the server answers the
retry with the first answer instead of doing the work twice; so is a POST answered 409
``idempotency_in_progress`` (the first is still running), after its ``Retry-After``. GET, PUT
and DELETE are retried alike (they are idempotent by HTTP); PATCH and a streamed body are not.

Invariant: a request goes to exactly the method and path the document gives its operationId;
a transport failure that outlasts the retries is raised as httpx's own
``httpx.TransportError`` (a refused TLS certificate at once: ``refused_certificate`` finds it),
an error answer as ``ProblemError``.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import uuid
from collections.abc import AsyncIterable
from types import TracebackType
from typing import Any, ClassVar, Self

import httpx

from .problems import problem_of

__all__ = ["BaseClient", "refused_certificate"]

RETRIED = frozenset({"GET", "PUT", "DELETE", "POST"})


def refused_certificate(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The TLS certificate failure behind a transport failure, if that is what it is (a
    configuration error: sending again will not help)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class BaseClient:
    #: operationId -> (method, path template): a table of ``models``
    operations: ClassVar[dict[str, tuple[str, str]]] = {}

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        headers: dict[str, str] | None = None,
        verify: ssl.SSLContext | bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.25,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff  # seconds before the first retry, doubled for each next one
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
            verify=verify,
            transport=transport,
            timeout=timeout,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(
        self,
        operation: str,
        *,
        path: dict[str, int | str] | None = None,
        idempotency_key: str | None = None,
        **request: Any,
    ) -> httpx.Response:
        method, template = self.operations[operation]
        if method == "POST":
            key = idempotency_key or str(uuid.uuid4())
            request["headers"] = {"Idempotency-Key": key, **(request.get("headers") or {})}
        url = template.format(**(path or {}))
        retries = self.retries
        if method not in RETRIED or isinstance(request.get("content"), AsyncIterable):
            retries = 0
        for attempt in range(retries + 1):
            last = attempt == retries
            try:
                response = await self._http.request(method, url, **request)
            except httpx.TransportError as exc:
                if last or refused_certificate(exc) is not None:
                    raise
                await self._wait(attempt)
                continue
            if response.status_code >= 400:
                problem = problem_of(response)
                if last or problem.code != "idempotency_in_progress":
                    raise problem
                await self._wait(attempt, _retry_after(response))
                continue
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _wait(self, attempt: int, at_least: float = 0.0) -> None:
        delay = self.backoff * 2**attempt
        await asyncio.sleep(max(at_least, delay * (0.5 + random.random() / 2)))

    async def _call(self, operation: str, **request: Any) -> Any:
        """The operation's JSON answer (None for an empty one)."""
        response = await self._request(operation, **request)
        return response.json() if response.content else None


def _retry_after(response: httpx.Response) -> float:
    try:
        return float(response.headers.get("retry-after", "1"))
    except ValueError:
        return 1.0
