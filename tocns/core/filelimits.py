"""Limits on files an operator imports (sheets of teams, catalogues), checked before anything parses them.

A 3 MB .xlsx whose sheet inflates to 1.6 GB once used 3.8 GB of memory before failing (issue 22): the size on disk,
the size of what a zip holds once inflated, its compression ratio and the number of rows are all bounded, and each
refusal is one Vietnamese line naming the limit and its setting. Defaults and reasons: docs/security.md.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from tocns.config import Settings

RATIO_FLOOR_BYTES = 1_000_000
"""Members smaller than this once inflated are not held to the compression ratio: a small XML part of repeated
markup (styles, an empty sheet) can compress 100-fold or more and is harmless at that size."""


class FileTooLarge(ValueError):
    """A file beyond an import limit: its message is the Vietnamese line to show."""


@dataclass(frozen=True)
class ImportLimits:
    """The bounds of one import (settings IMPORT_MAX_*)."""

    max_file_bytes: int = 10_000_000
    max_uncompressed_bytes: int = 50_000_000
    max_compression_ratio: float = 100.0
    max_rows: int = 20_000

    @classmethod
    def from_settings(cls, settings: Settings) -> ImportLimits:
        """The limits configured in the settings."""
        return cls(
            max_file_bytes=settings.import_max_file_bytes,
            max_uncompressed_bytes=settings.import_max_uncompressed_bytes,
            max_compression_ratio=settings.import_max_compression_ratio,
            max_rows=settings.import_max_rows,
        )


def megabytes(size: int) -> str:
    """A size in MB the Vietnamese way (comma decimal): 12,5 MB."""
    return f"{size / 1_000_000:.1f}".replace(".", ",") + " MB"


def check_file_size(path: Path, limits: ImportLimits) -> None:
    """Refuse a file larger on disk than IMPORT_MAX_FILE_BYTES (before it is read)."""
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise FileTooLarge(
            f"Tệp {path.name} nặng {megabytes(size)}, quá giới hạn {megabytes(limits.max_file_bytes)} "
            "(IMPORT_MAX_FILE_BYTES). Hãy chia thành nhiều tệp nhỏ hơn."
        )


def check_zip(path: Path, limits: ImportLimits) -> None:
    """Refuse a zip (an .xlsx) whose members inflate beyond IMPORT_MAX_UNCOMPRESSED_BYTES in all, or one of which
    inflates more than IMPORT_MAX_COMPRESSION_RATIO times (a zip bomb), reading only the zip's directory.
    zipfile.BadZipFile is left to the caller, which knows what the file was meant to be."""
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    total = sum(m.file_size for m in members)
    if total > limits.max_uncompressed_bytes:
        raise FileTooLarge(
            f"Tệp {path.name} khi giải nén nặng {megabytes(total)}, quá giới hạn "
            f"{megabytes(limits.max_uncompressed_bytes)} (IMPORT_MAX_UNCOMPRESSED_BYTES). Hãy chia thành nhiều tệp "
            "nhỏ hơn."
        )
    for member in members:
        if member.file_size < RATIO_FLOOR_BYTES:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > limits.max_compression_ratio:
            raise FileTooLarge(
                f"Tệp {path.name} nén bất thường ({member.filename} nén {ratio:.0f} lần, tối đa "
                f"{limits.max_compression_ratio:.0f} lần theo IMPORT_MAX_COMPRESSION_RATIO): không mở. Hãy lưu lại "
                "bảng tính từ Excel rồi thử lại."
            )
