"""Command handlers; importing this package registers every command on the registry."""

from bot.handlers import directives, guide, org  # noqa: F401  (import registers the commands)
