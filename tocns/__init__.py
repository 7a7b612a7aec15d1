"""Tổ CNS bot: the platform-neutral core."""
