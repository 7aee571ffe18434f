"""The Telegram bot: aiogram routers (one per feature), views, the message catalog, the
outgoing-call limiter, the notifier and the FSM storage. ``telesip.bot.app`` assembles them.
"""
