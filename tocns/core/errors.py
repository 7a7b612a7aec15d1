"""The base of expected storage failures, shared by the router (which answers them) and the database layer."""


class StorageError(Exception):
    """Base of every expected data-access failure; its message is Vietnamese and safe to show."""
