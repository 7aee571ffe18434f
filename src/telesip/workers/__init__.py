"""asyncio shells around the sans-I/O SIP core: transports, DNS, the registration manager."""

from __future__ import annotations

from .lines import AccountConfig
from .registrar import RegistrationManager
from .stats import ManagerStats
from .status import STATES, RegistrationStatus

__all__ = ["STATES", "AccountConfig", "ManagerStats", "RegistrationManager", "RegistrationStatus"]
