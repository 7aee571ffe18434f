"""asyncio shells around the sans-I/O SIP core: transports, DNS, the registration manager."""

from __future__ import annotations

from .lines import AccountConfig
from .registrar import RegistrationManager
from .stats import ManagerStats

__all__ = ["AccountConfig", "ManagerStats", "RegistrationManager"]
