from __future__ import annotations

import pytest

from telesip.services.context import Services


@pytest.fixture
def s(services: Services) -> Services:
    return services
