"""The /ghi parser on realistic messages: exact items recorded, or the exact reason for refusing."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocns.core.parsing import parse_command
from tocns.features.activity.grammar import Catalogue, LogParseError, default_specs, parse_log

TODAY = date(2026, 11, 23)  # a Monday
CAT = Catalogue(default_specs())


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


# (message as typed, expected items, expected date or None for "today", expected note)
OK: list[tuple[str, list[tuple[str, int]], str | None, str | None]] = [
    ("/ghi vneid 5", [("vneid", 5)], None, None),
    # The brief's own example: the place after the items is a note, not an unknown indicator.
    ("/ghi vneid 5 thon 3", [("vneid", 5)], None, "thon 3"),
    ("/ghi dvc 2 ap 4 nha ong Ba", [("dvc", 2)], None, "ap 4 nha ong Ba"),
    ("/ghi vneid 3 to 5", [("vneid", 3)], None, "to 5"),
    ("/ghi VNEID 5", [("vneid", 5)], None, None),
    ("/GHI VneID 5", [("vneid", 5)], None, None),
    ("/ghi@ToCNSBot vneid 5", [("vneid", 5)], None, None),
    ("/log vneid 5", [("vneid", 5)], None, None),
    ("/ghi   vneid    5   ", [("vneid", 5)], None, None),
    ("/ghi 5 vneid", [("vneid", 5)], None, None),
    ("/ghi 5 người vneid", [("vneid", 5)], None, None),
    ("/ghi vneid 5 người", [("vneid", 5)], None, None),
    ("/ghi vneid: 5", [("vneid", 5)], None, None),
    ("/ghi vneid:5", [("vneid", 5)], None, None),
    ("/ghi vneid=5", [("vneid", 5)], None, None),
    ("/ghi vneid = 5", [("vneid", 5)], None, None),
    ("/ghi vneid5", [("vneid", 5)], None, None),
    ("/ghi định danh 4", [("vneid", 4)], None, None),
    ("/ghi dinh danh 4", [("vneid", 4)], None, None),
    ("/ghi ĐỊNH DANH 4", [("vneid", 4)], None, None),
    (_nfd("/ghi định danh điện tử 4 người"), [("vneid", 4)], None, None),
    ("/ghi dinh danh dien tu 4 nguoi", [("vneid", 4)], None, None),
    ("/ghi dịch vụ công 3", [("dvc", 3)], None, None),
    ("/ghi dich vu cong 3 ho so", [("dvc", 3)], None, None),
    ("/ghi dvc 3 hs", [("dvc", 3)], None, None),
    (_nfd("/ghi Dịch vụ công: 7 hồ sơ"), [("dvc", 7)], None, None),
    ("/ghi dichvucong 3", [("dvc", 3)], None, None),
    ("/ghi mobile money 2", [("thanhtoan", 2)], None, None),
    ("/ghi Mobile Money 2 tài khoản", [("thanhtoan", 2)], None, None),
    ("/ghi thanh toán 2", [("thanhtoan", 2)], None, None),
    ("/ghi tai khoan thanh toan 2", [("thanhtoan", 2)], None, None),
    ("/ghi khong dung tien mat 6", [("thanhtoan", 6)], None, None),
    ("/ghi voso 1", [("tmdt", 1)], None, None),
    ("/ghi postmart 2 gian hàng", [("tmdt", 2)], None, None),
    ("/ghi tmdt 3 gian hang", [("tmdt", 3)], None, None),
    ("/ghi thương mại điện tử 1", [("tmdt", 1)], None, None),
    ("/ghi nền tảng số 9 lượt", [("nentang", 9)], None, None),
    ("/ghi ung dung 4", [("nentang", 4)], None, None),
    ("/ghi sổ sức khỏe 3", [("suckhoe", 3)], None, None),
    ("/ghi so suc khoe dien tu 3", [("suckhoe", 3)], None, None),
    ("/ghi sức khoẻ 3", [("suckhoe", 3)], None, None),
    ("/ghi vssid 8", [("bhxh", 8)], None, None),
    ("/ghi VssID 8 người", [("bhxh", 8)], None, None),
    ("/ghi bảo hiểm xã hội 8", [("bhxh", 8)], None, None),
    ("/ghi an toàn thông tin 20 người", [("attt", 20)], None, None),
    ("/ghi chong lua dao 12", [("attt", 12)], None, None),
    ("/ghi tập huấn 1 buổi", [("taphuan", 1)], None, None),
    ("/ghi tuyen truyen 2", [("taphuan", 2)], None, None),
    ("/ghi khác 4", [("khac", 4)], None, None),
    ("/ghi vneid 5, dvc 3", [("vneid", 5), ("dvc", 3)], None, None),
    ("/ghi vneid 5; dvc 3", [("vneid", 5), ("dvc", 3)], None, None),
    ("/ghi vneid 5 và dvc 3", [("vneid", 5), ("dvc", 3)], None, None),
    ("/ghi vneid 5 va dvc 3", [("vneid", 5), ("dvc", 3)], None, None),
    ("/ghi vneid 5 dvc 3", [("vneid", 5), ("dvc", 3)], None, None),
    ("/ghi 5 vneid, 3 dvc", [("vneid", 5), ("dvc", 3)], None, None),
    ("/ghi vneid 5, 3 dvc", [("vneid", 5), ("dvc", 3)], None, None),
    ("/ghi vneid 5,dvc 3,bhxh 2", [("vneid", 5), ("dvc", 3), ("bhxh", 2)], None, None),
    ("/ghi vneid 5\ndvc 3\nbhxh 2", [("vneid", 5), ("dvc", 3), ("bhxh", 2)], None, None),
    (
        "/ghi định danh 5 người, dịch vụ công 3 hồ sơ, voso 1 gian hàng",
        [("vneid", 5), ("dvc", 3), ("tmdt", 1)],
        None,
        None,
    ),
    ("/ghi hôm nay vneid 5", [("vneid", 5)], "2026-11-23", None),
    ("/ghi hom nay vneid 5", [("vneid", 5)], "2026-11-23", None),
    ("/ghi hôm qua vneid 5", [("vneid", 5)], "2026-11-22", None),
    ("/ghi HOM QUA vneid 5", [("vneid", 5)], "2026-11-22", None),
    ("/ghi hôm kia vneid 5", [("vneid", 5)], "2026-11-21", None),
    ("/ghi vneid 5 hôm qua", [("vneid", 5)], "2026-11-22", None),
    ("/ghi 20/11 vneid 5", [("vneid", 5)], "2026-11-20", None),
    ("/ghi ngày 20/11 vneid 5", [("vneid", 5)], "2026-11-20", None),
    ("/ghi 20/11/2026 vneid 5", [("vneid", 5)], "2026-11-20", None),
    ("/ghi 20/11/26 vneid 5", [("vneid", 5)], "2026-11-20", None),
    ("/ghi 5/11 vneid 12", [("vneid", 12)], "2026-11-05", None),
    ("/ghi 20-11-2026 vneid 5", [("vneid", 5)], "2026-11-20", None),
    ("/ghi vneid 5 20/11", [("vneid", 5)], "2026-11-20", None),
    ("/ghi vneid 5 tại nhà văn hóa thôn 3", [("vneid", 5)], None, "tại nhà văn hóa thôn 3"),
    ("/ghi vneid 5, dvc 3 hỗ trợ bà con", [("vneid", 5), ("dvc", 3)], None, "hỗ trợ bà con"),
    ("/ghi vneid 5 ghi chú: đi cùng công an xã", [("vneid", 5)], None, "đi cùng công an xã"),
    ("/ghi vneid 5 gc tại chợ", [("vneid", 5)], None, "tại chợ"),
    ("/ghi vneid 5 👍", [("vneid", 5)], None, "👍"),
    ("/ghi 📌 vneid 5", [("vneid", 5)], None, "📌"),
    ("/ghi vneid 5 🎉 xong rồi", [("vneid", 5)], None, "🎉 xong rồi"),
    ("/ghi vneid 5 '); DROP TABLE activity_record; --", [("vneid", 5)], None, "'); DROP TABLE activity_record; --"),
    ("/ghi vneid 5 <b>đậm</b>", [("vneid", 5)], None, "<b>đậm</b>"),
    ("/ghi vneid 5 (ở nhà văn hóa)", [("vneid", 5)], None, "(ở nhà văn hóa)"),
    ("/ghi vneid 5 họp thôn 3", [("vneid", 5)], None, "họp thôn 3"),
    ("/ghi đã hướng dẫn dvc 3", [("dvc", 3)], None, "đã hướng dẫn"),
    ("/ghi vneid +5", [("vneid", 5)], None, None),
    ("/ghi vneid 05", [("vneid", 5)], None, None),
    ("/ghi vneid 500", [("vneid", 500)], None, None),
    ("/ghi taphuan 50", [("taphuan", 50)], None, None),
    ("/ghi hôm qua vneid 5, dvc 3 tại UBND xã", [("vneid", 5), ("dvc", 3)], "2026-11-22", "tại UBND xã"),
    ("/ghi 20/11 5 vneid và 2 vssid ở chợ phiên", [("vneid", 5), ("bhxh", 2)], "2026-11-20", "ở chợ phiên"),
]

# (message as typed, a phrase the refusal must contain)
REFUSED: list[tuple[str, str]] = [
    ("/ghi", "Chưa có chỉ tiêu nào"),
    ("/ghi    ", "Chưa có chỉ tiêu nào"),
    ("/ghi hôm nay", "Chưa có chỉ tiêu nào"),
    ("/ghi 5", "Số 5 chưa rõ thuộc chỉ tiêu nào"),
    ("/ghi vneid", "Thiếu số lượng cho Định danh điện tử VNeID (vneid)"),
    ("/ghi dinh danh nguoi dan", "Thiếu số lượng cho Định danh điện tử VNeID"),
    ("/ghi vneid 5, dvc", "Thiếu số lượng cho Hướng dẫn dịch vụ công trực tuyến (dvc)"),
    ("/ghi vnied 5", "Không có chỉ tiêu 'vnied'. Có phải bạn muốn ghi 'vneid'"),
    ("/ghi 5 vnied", "Không có chỉ tiêu 'vnied'. Có phải bạn muốn ghi 'vneid'"),
    ("/ghi vneid 5, dvcc 3", "Không có chỉ tiêu 'dvcc'. Có phải bạn muốn ghi 'dvc'"),
    ("/ghi vssd 2", "Có phải bạn muốn ghi 'bhxh'"),
    ("/ghi xyzabc 5", "Không có chỉ tiêu 'xyzabc'."),
    ("/ghi vneid 0", "phải lớn hơn 0"),
    ("/ghi vneid -5", "không được âm"),
    ("/ghi vneid 2,5", "phải là số nguyên"),
    ("/ghi vneid 2.5", "phải là số nguyên"),
    ("/ghi vneid 1.000", "phải là số nguyên"),
    ("/ghi vneid 501", "lớn bất thường (tối đa 500 người mỗi tin)"),
    ("/ghi vneid 99999999999999999999", "lớn bất thường"),
    ("/ghi taphuan 51", "tối đa 50 buổi"),
    ("/ghi 24/11 vneid 5", "Ngày 24/11/2026 chưa tới"),
    ("/ghi 31/02 vneid 5", "Ngày '31/02' không có thật"),
    ("/ghi 32/1 vneid 5", "không có thật"),
    ("/ghi 10/13/2026 vneid 5", "không có thật"),
    ("/ghi 01/10/2026 vneid 5", "đã quá 31 ngày"),
    ("/ghi 20/11 21/11 vneid 5", "Mỗi tin chỉ ghi cho một ngày"),
    ("/ghi hôm qua hôm nay vneid 5", "Mỗi tin chỉ ghi cho một ngày"),
    ("/ghi vneid 5, vneid 3", "được ghi hai lần"),
    ("/ghi 5 3 vneid", "Hai số 5 và 3 liền nhau"),
    ("/ghi vneid 5 3", "Hai số 5 và 3 liền nhau"),
    ("/ghi 5 dvc 3", "Số 5 chưa rõ thuộc chỉ tiêu nào"),
    ("/ghi vneid 5 <script>alert(1)</script>", "Số 1 chưa rõ thuộc chỉ tiêu nào"),
    ("/ghi dvc vneid 5", "Thiếu số lượng cho Hướng dẫn dịch vụ công trực tuyến"),
]


def _args(message: str) -> str:
    parsed = parse_command(message, ["ToCNSBot"])
    assert parsed is not None and parsed.name in ("ghi", "log")
    return parsed.args


def test_table_is_large_enough() -> None:
    assert len(OK) + len(REFUSED) >= 80


@pytest.mark.parametrize(("message", "items", "day", "note"), OK, ids=[m for m, *_ in OK])
def test_accepted(message: str, items: list[tuple[str, int]], day: str | None, note: str | None) -> None:
    parsed = parse_log(_args(message), CAT, TODAY)
    assert [(i.code, i.quantity) for i in parsed.items] == items
    assert (parsed.activity_date.isoformat() if parsed.activity_date else None) == day
    assert parsed.note == note


@pytest.mark.parametrize(("message", "phrase"), REFUSED, ids=[m for m, _ in REFUSED])
def test_refused_with_the_right_form(message: str, phrase: str) -> None:
    with pytest.raises(LogParseError) as caught:
        parse_log(_args(message), CAT, TODAY)
    text = caught.value.message
    assert phrase in text
    assert "Chưa có gì được ghi." in text and "Ví dụ: /ghi vneid 5" in text


def test_year_wraps_for_late_december() -> None:
    parsed = parse_log("31/12 vneid 2", CAT, date(2027, 1, 2))
    assert parsed.activity_date == date(2026, 12, 31)


_WORDS = st.sampled_from(
    ["vneid", "dvc", "dinh danh", "hôm qua", "20/11", "và", ",", ";", ":", "=", "người", "ghi chú", "👍", "-", ".", " "]
)
_PIECES = st.one_of(_WORDS, st.integers(min_value=-1000, max_value=100000).map(str), st.text(max_size=8))


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=12).map(" ".join))
def test_parser_never_raises_unexpectedly_and_never_invents_quantities(text: str) -> None:
    try:
        parsed = parse_log(text, CAT, TODAY)
    except LogParseError:
        return
    numbers_in_text = {int(n) for n in re.findall(r"[0-9]+", text)}
    for item in parsed.items:
        assert item.quantity in numbers_in_text
        assert 0 < item.quantity <= 500


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_parser_on_arbitrary_text(text: str) -> None:
    try:
        parsed = parse_log(text, CAT, TODAY)
    except LogParseError:
        return
    numbers_in_text = {int(n) for n in re.findall(r"[0-9]+", text)}
    assert all(item.quantity in numbers_in_text for item in parsed.items)
