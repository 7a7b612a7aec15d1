"""Command handlers; importing this package registers every command on the registry."""

from bot.handlers import activity, directives, guide, org, reports, tasks  # noqa: F401  (import registers commands)
