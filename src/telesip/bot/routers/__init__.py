"""One router per feature; ``telesip.bot.app`` includes them in this order."""
