"""Import limits: an oversized file or a zip bomb is refused with one Vietnamese line naming the limit's setting,
before anything parses it."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tocns.core.filelimits import FileTooLarge, ImportLimits, check_file_size, check_zip, megabytes


def test_sizes_read_the_vietnamese_way() -> None:
    assert megabytes(12_500_000) == "12,5 MB"


def test_a_file_too_large_on_disk_is_refused(tmp_path: Path) -> None:
    sheet = tmp_path / "to.xlsx"
    sheet.write_bytes(b"x" * 2_000)
    check_file_size(sheet, ImportLimits(max_file_bytes=2_000))
    with pytest.raises(FileTooLarge, match=r"Tệp to.xlsx nặng 0,0 MB.*IMPORT_MAX_FILE_BYTES"):
        check_file_size(sheet, ImportLimits(max_file_bytes=1_999))


def test_a_zip_bomb_is_refused_from_its_directory_alone(tmp_path: Path) -> None:
    bomb = tmp_path / "bom.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * 3_000_000)  # inflates about 1000-fold
    with pytest.raises(FileTooLarge, match="IMPORT_MAX_COMPRESSION_RATIO"):
        check_zip(bomb, ImportLimits())
    with pytest.raises(FileTooLarge, match="IMPORT_MAX_UNCOMPRESSED_BYTES"):
        check_zip(bomb, ImportLimits(max_uncompressed_bytes=2_000_000))
    check_zip(bomb, ImportLimits(max_compression_ratio=10_000))  # within every limit: accepted
