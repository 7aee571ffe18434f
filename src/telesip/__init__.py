"""telesip: SIP accounts in Telegram."""
