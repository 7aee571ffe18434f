from __future__ import annotations

import pytest

from telesip.services.dependencies import Dependencies


@pytest.fixture
def deps(services: Dependencies) -> Dependencies:
    return services
