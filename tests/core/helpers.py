"""People and settings for the service-layer tests, and an event recorder."""

from __future__ import annotations

from telesip.domain.events import Event
from telesip.domain.model import TelegramUser
from telesip.domain.settings import AccountSettings, Secret
from telesip.services.dependencies import Dependencies

ALICE = TelegramUser(1001, "Alice", "alice", "en")  # administrator
BOB = TelegramUser(1002, "Bob", "bob", "en")  # employee
CAROL = TelegramUser(1003, "Carol", None, "ru")
DAVE = TelegramUser(1004, "Dave", "dave", "en")
PASSWORD = "s3cr3t-Pa55"


def sip(
    login: str = "100", password: str = PASSWORD, domain: str = "pbx.example.com", **kw: object
) -> AccountSettings:
    return AccountSettings(login=login, password=Secret(password), domain=domain, **kw)  # type: ignore[arg-type]


class Recorder:
    """Collects published events, as the bot's notifier and the workers would receive them."""

    def __init__(self, deps: Dependencies) -> None:
        self.events: list[Event] = []
        deps.bus.subscribe(None, self._on)

    async def _on(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]
