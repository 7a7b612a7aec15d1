"""Errors raised by data-access functions; their messages are Vietnamese and safe to show."""


class StorageError(Exception):
    """Base of every expected data-access failure."""


class NotFound(StorageError):
    """The record asked for does not exist."""


class Conflict(StorageError):
    """The change would duplicate or contradict an existing record."""


class Expired(StorageError):
    """A code or link is past its validity."""
