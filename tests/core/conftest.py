from __future__ import annotations

import pytest

from telesip.services.dependencies import Dependencies


@pytest.fixture
def deps(services: Dependencies) -> Dependencies:
    return services


@pytest.fixture
def s(deps: Dependencies) -> Dependencies:  # transitional, removed before the session ends
    return deps
