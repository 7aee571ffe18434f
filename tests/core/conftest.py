from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from telesip.domain.clock import FakeClock
from telesip.services.dependencies import Dependencies

from ..conftest import make_services


@pytest.fixture
def deps(services: Dependencies) -> Dependencies:
    return services


@pytest.fixture
async def pg(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Dependencies]:
    """PostgreSQL alone (the tests of what only it does), skipped without a server."""
    deps = await make_services("pg", request, tmp_path, clock)
    yield deps
    await deps.engine.dispose()
