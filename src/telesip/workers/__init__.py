"""asyncio shells around the sans-I/O SIP core: transports, DNS, the registration manager."""

from __future__ import annotations

from .accounts import STATES, AccountConfig, ManagerStats, RegistrationStatus
from .registrar import RegistrationManager

__all__ = ["STATES", "AccountConfig", "ManagerStats", "RegistrationManager", "RegistrationStatus"]
