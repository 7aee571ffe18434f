"""What both clients share: one ``httpx.AsyncClient``, an operation table from the documents
(operationId -> method, path template), problems raised as ``ProblemError``.

Invariant: a request goes to exactly the method and path the document gives its operationId;
a transport failure (refused connection, timeout, TLS) is raised as httpx's own
``httpx.TransportError``, an error answer as ``ProblemError``.
"""

from __future__ import annotations

import ssl
from types import TracebackType
from typing import Any, ClassVar, Self

import httpx

from .problems import problem_of

__all__ = ["BaseClient"]


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
    ) -> None:
        self.base_url = base_url.rstrip("/")
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
        self, operation: str, *, path: dict[str, int] | None = None, **request: Any
    ) -> httpx.Response:
        method, template = self.operations[operation]
        response = await self._http.request(method, template.format(**(path or {})), **request)
        if response.status_code >= 400:
            raise problem_of(response)
        return response

    async def _call(self, operation: str, **request: Any) -> Any:
        """The operation's JSON answer (None for an empty one)."""
        response = await self._request(operation, **request)
        return response.json() if response.content else None
