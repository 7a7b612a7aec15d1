"""Files the bot sends are stored once under FILES_DIR, under a name no path trick can leave."""

from __future__ import annotations

from pathlib import Path

from tocns.core.files import safe_name, save_attachment
from tocns.core.messages import Attachment


def test_names_lose_separators_control_characters_and_encodings() -> None:
    assert safe_name("báo cáo tuần.xlsx") == "báo cáo tuần.xlsx"
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Users\\x\\a.png") == "a.png"
    assert safe_name("a%2e%2e.png") == "a_2e_2e.png"
    assert safe_name("a\x00b.png") == "a_b.png"
    assert safe_name("..") == "tep" and safe_name("") == "tep"


def test_the_same_content_is_written_once(tmp_path: Path) -> None:
    chart = Attachment("biểu đồ.png", b"\x89PNG chart", "image/png")
    first = save_attachment(str(tmp_path), chart)
    again = save_attachment(str(tmp_path), chart)
    other = save_attachment(str(tmp_path), Attachment("biểu đồ.png", b"\x89PNG other", "image/png"))
    assert first == again and first.read_bytes() == b"\x89PNG chart"
    assert other != first and first.is_relative_to(tmp_path.resolve())
