"""asyncio shells around the sans-I/O SIP core: transports, DNS, the registration manager."""

# ruff: noqa: E402 - `compiled.use` must run before the modules it may load compiled
from __future__ import annotations

from telesip.sip import compiled

compiled.use(__path__, __name__)  # the mypyc build of the registrar, when it is fresh

from .lines import AccountConfig
from .registrar import RegistrationManager
from .stats import ManagerStats

__all__ = ["AccountConfig", "ManagerStats", "RegistrationManager"]
