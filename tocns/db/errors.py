"""Errors raised by data-access functions; their messages are Vietnamese and safe to show."""

from tocns.core.errors import StorageError

__all__ = ["Conflict", "Expired", "NotFound", "StorageError"]


class NotFound(StorageError):
    """The record asked for does not exist."""


class Conflict(StorageError):
    """The change would duplicate or contradict an existing record."""


class Expired(StorageError):
    """A code or link is past its validity."""
