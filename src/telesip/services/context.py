"""Transitional (2026-12-07, removed before this session's last commit): the old name of
``services.dependencies`` for branches written before the rename."""

from telesip.services.dependencies import Dependencies as Services
from telesip.services.dependencies import Rules

__all__ = ["Rules", "Services"]
