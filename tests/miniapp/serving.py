"""telesip's HTTP app served by uvicorn on 127.0.0.1 (a free port the kernel picks), inside
the caller's event loop, for the real-browser test and the benchmark."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn

from telesip.api.app import create_app
from telesip.config import Settings
from telesip.services.dependencies import Dependencies
from tests.miniapp.signing import TOKEN


@contextlib.asynccontextmanager
async def serving(deps: Dependencies, **settings: object) -> AsyncIterator[str]:
    """The base URL of the app on a listening socket; stopped on exit."""
    config = Settings(bot_token=TOKEN, **settings)  # type: ignore[arg-type]
    app = create_app(deps, config, bot_username="telesip_test_bot")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", ws="none")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # uvicorn sets it once the socket accepts
        if task.done():
            await task
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()
