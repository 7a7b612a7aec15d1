"""Issue 28: `/ghi` messages as field workers type them in a hurry. Only exact counts of one day's finished work
become records; times, phone numbers, addresses, ages, years and tagged people stay in the note; units agree with
the catalogue. Tables of examples (none copied from the issue) and Hypothesis properties."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.features.activity.blind_set import read_tsv, score
from tocns.core.dates import DateError, match_date
from tocns.core.period import parse_period
from tocns.core.text import fold
from tocns.features.activity.grammar import Catalogue, LogParseError, default_specs, numbers_in, parse_log

TODAY = date(2026, 11, 25)  # a Wednesday
CAT = Catalogue(default_specs())
D = date

# (message, items, day or None when the message names none, note or ... when not checked)
RECORDED: list[tuple[str, list[tuple[str, int]], date | None, object]] = [
    # days spelled out, weekdays after "hôm"/"bữa", weeks after a weekday, "N ngày trước"
    ("hôm thứ 2 vneid 3", [("vneid", 3)], D(2026, 11, 23), None),
    ("bữa thứ 3 dvc 1", [("dvc", 1)], D(2026, 11, 24), None),
    ("hôm chủ nhật vssid 2", [("bhxh", 2)], D(2026, 11, 22), None),
    ("ngày 18 tháng 11 vneid 4", [("vneid", 4)], D(2026, 11, 18), None),
    ("19 tháng 11 dvc 2 hồ sơ", [("dvc", 2)], D(2026, 11, 19), None),
    ("mùng 5 momo 2", [("thanhtoan", 2)], D(2026, 11, 5), None),
    ("mồng 9 tháng 11 voso 1", [("tmdt", 1)], D(2026, 11, 9), None),
    ("ngày 2 tháng 11 năm 2026 bhxh 3", [("bhxh", 3)], D(2026, 11, 2), None),
    ("thứ 5 tuần trước nữa dvc 2", [("dvc", 2)], D(2026, 11, 12), None),
    ("3 ngày trước vneid 2", [("vneid", 2)], D(2026, 11, 22), None),
    ("vneid 4 hom thu 6", [("vneid", 4)], D(2026, 11, 20), None),
    # times
    ("vneid 6 lúc 7g30", [("vneid", 6)], None, "lúc 7g30"),
    ("dvc 2 hồ sơ, 10h45 xong", [("dvc", 2)], None, "10h45 xong"),
    ("vneid 3 từ 8 giờ đến 10 giờ", [("vneid", 3)], None, "từ 8 giờ đến 10 giờ"),
    ("dvc 2 hs lúc 15:30", [("dvc", 2)], None, "lúc 15:30"),
    ("sskdt 3 người, hẹn lúc 9h sáng", [("suckhoe", 3)], None, "hẹn lúc 9h sáng"),
    ("vneid 3, mất 40 phút", [("vneid", 3)], None, "mất 40 phút"),
    # phone numbers in any grouping
    ("bhxh 4 người, liên hệ 0912.345.678", [("bhxh", 4)], None, "liên hệ 0912.345.678"),
    ("vneid 2, số điện thoại 0365 111 222", [("vneid", 2)], None, "số điện thoại 0365 111 222"),
    ("dvc 1 hs cho ông Tư, đt: +84 912 345 678", [("dvc", 1)], None, "cho ông Tư, đt: +84 912 345 678"),
    ("vneid 2 gọi 0977-888-999", [("vneid", 2)], None, "gọi 0977-888-999"),
    # ages, years, house and hamlet numbers
    ("thanh toán 2 tk cho bà 72 tuổi", [("thanhtoan", 2)], None, "cho bà 72 tuổi"),
    ("vneid 3 cho cụ sinh năm 1948", [("vneid", 3)], None, "cho cụ sinh năm 1948"),
    ("vneid 2 tại số nhà 45 đường Lê Lợi", [("vneid", 2)], None, "tại số nhà 45 đường Lê Lợi"),
    ("dvc 4 ở 27 Hùng Vương", [("dvc", 4)], None, "ở 27 Hùng Vương"),
    ("vneid 5 xóm 12, tổ 3", [("vneid", 5)], None, "xóm 12, tổ 3"),
    ("vneid 3 ngõ 5/2 phố Huế", [("vneid", 3)], None, "ngõ 5/2 phố Huế"),
    ("vneid 2 (cháu 6 tuổi)", [("vneid", 2)], None, "(cháu 6 tuổi)"),
    ("vneid 6 đợt 3", [("vneid", 6)], None, "đợt 3"),
    # tagged people
    ("vneid 4 cùng [@1234567890123456789]", [("vneid", 4)], None, "cùng người được gắn thẻ"),
    ("dvc 2 với [@ab12cd34ef]", [("dvc", 2)], None, "với người được gắn thẻ"),
    ("vneid 3 cùng @hoa_lo", [("vneid", 3)], None, "cùng @hoa_lo"),
    # words around an indicator's name
    ("cài app VNeID 2 người", [("vneid", 2)], None, ...),
    ("hướng dẫn cài ứng dụng VssID cho 5 người", [("bhxh", 5)], None, ...),
    ("tạo tài khoản VNeID cho 2 bà con", [("vneid", 2)], None, ...),
    ("mở app momo cho 3 tk", [("thanhtoan", 3)], None, ...),
    ("hỗ trợ 4 cụ kích hoạt định danh", [("vneid", 4)], None, "hỗ trợ"),
    # "Mai" the person is not "mai" the day
    ("vneid 3 cùng chị Mai thôn 2", [("vneid", 3)], None, "cùng chị Mai thôn 2"),
    ("dvc 2, cô Mai ở xóm 1 nhờ", [("dvc", 2)], None, ...),
    # a later clause saying the work goes on is a note; the items before it are done
    ("vneid 4, hẹn mai làm tiếp", [("vneid", 4)], None, "hẹn mai làm tiếp"),
    ("dvc 3; mai sẽ làm nốt thôn 2", [("dvc", 3)], None, "mai sẽ làm nốt thôn 2"),
    ("vneid 8 (có 2 cụ trên 80t)", [("vneid", 8)], None, "(có 2 cụ trên 80t)"),
    ("vneid 2; hotline 1900 1234", [("vneid", 2)], None, "hotline 1900 1234"),
    ("vneid 10 người (nữ 6, nam 4)", [("vneid", 10)], None, "(nữ 6, nam 4)"),
    # unit synonyms the catalogue names
    ("tập huấn 1 lớp", [("taphuan", 1)], None, None),
    ("vneid 4 ng", [("vneid", 4)], None, None),
    ("voso 2 cửa hàng", [("tmdt", 2)], None, None),
    ("momo 3 ví", [("thanhtoan", 3)], None, None),
    ("khác 2 việc", [("khac", 2)], None, None),
    # "thêm" before an indicator is a record of its own, not an addition
    ("ghi thêm dvc 1", [("dvc", 1)], None, ...),
    ("vneid thêm 2", [("vneid", 2)], None, None),
]

# (message, a phrase the refusal must contain)
REFUSED: list[tuple[str, str]] = [
    # ranges
    ("vneid 7 tới 8 người", "'7 tới 8' là một khoảng, không phải một số"),
    ("dvc 3-4 hồ sơ", "'3-4' là một khoảng"),
    ("vneid 3 – 4", "là một khoảng"),
    ("momo 2 hoặc 3", "'2 hoặc 3' là một khoảng"),
    ("vssid 4 hay 5 người", "'4 hay 5' là một khoảng"),
    ("vneid 12-15", "'12-15' là một khoảng"),
    # approximate and open-ended numbers
    ("dvc chừng 7", "'chừng 7' không phải một số chính xác"),
    ("vneid độ 10 người", "'độ 10' không phải một số chính xác"),
    ("vneid xấp xỉ 15", "'xấp xỉ 15' không phải một số chính xác"),
    ("ước tính 12 người cài vneid", "'ước tính 12' không phải một số chính xác"),
    ("vneid ít nhất 8", "'ít nhất 8' không phải một số chính xác"),
    ("dvc trên 30 hồ sơ", "'trên 30' không phải một số chính xác"),
    ("vneid 15 trở lên", "'15 trở lên' không phải một số chính xác"),
    ("vneid 40+", "'40+' không phải một số chính xác"),
    ("vneid 20 mấy người", "'20 mấy' không phải một số chính xác"),
    ("vneid ~7", "'~7' không phải một số chính xác"),
    ("dvc không quá 9", "'không quá 9' không phải một số chính xác"),
    ("vneid khoang 9 nguoi", "'khoang 9' không phải một số chính xác"),
    # totals over several days
    ("tong cong vneid 25", "tổng của nhiều ngày"),
    ("vneid 14 cả tháng", "'cả tháng': đó là tổng của nhiều ngày"),
    ("lũy kế dvc 40", "'lũy kế'"),
    ("vneid 9 trong 3 ngày", "'3 ngày': đó là tổng của nhiều ngày"),
    ("dvc 12 trong 2 tuần", "'2 tuần'"),
    ("vneid 10 mấy ngày nay", "tổng của nhiều ngày"),
    ("từ đầu tuần đến giờ vneid 18", "'đầu tuần' không phải một ngày"),
    # plans
    ("sẽ làm vneid 5 chiều nay", "'sẽ' là việc sắp làm"),
    ("se ho tro dvc 3", "'se' là việc sắp làm"),
    ("dự kiến thứ 6 tập huấn 1 buổi", "'dự kiến' là việc sắp làm"),
    ("theo kế hoạch vneid 20", "'kế hoạch' là việc sắp làm"),
    ("Mai xuống thôn 5 làm dvc 4", "'Mai' là việc sắp làm"),
    ("sắp tới vneid 6", "là việc sắp làm"),
    ("dvc 2 tới đây", "'tới đây' là việc sắp làm"),
    ("dvc 8 mai làm tiếp", "'mai' là việc sắp làm"),
    ("sáng mai vneid 3", "chưa tới"),
    ("vneid 5 ngày mốt", "chưa tới"),
    # relative weeks are not days
    ("tuần qua vneid 9", "'tuần qua' không phải một ngày"),
    ("tuần vừa rồi dvc 2", "'tuần vừa rồi' không phải một ngày"),
    ("vneid 2 tuần này", "'tuần này' không phải một ngày"),
    ("tuan truoc nua bhxh 1", "'tuần trước nữa' không phải một ngày"),
    # spelled days that are in the future or do not exist
    ("thứ 6 tuần sau nữa dvc 1", "chưa tới"),
    ("mùng 28 vneid 2", "Ngày 28/11/2026 chưa tới"),
    ("ngày 30 tháng 11 vneid 1", "chưa tới"),
    ("ngày 31 tháng 11 vneid 1", "Ngày 'ngày 31 tháng 11' không có thật"),
    ("ngày 5 tháng 13 vneid 1", "Không có 'tháng 13'"),
    # additions are refused with the sum to send, never dropped
    ("vneid 4 người, thêm được 1 người nữa", "/ghi vneid 5 (4 + 1)"),
    ("dvc 2, chiều thêm 3", "/ghi dvc 5 (2 + 3)"),
    ("vneid 2 dvc 1, thêm 2 nữa", "chưa rõ của chỉ tiêu nào"),
    ("vssid 3, rồi vssid 2", "/ghi bhxh 5 (3 + 2)"),
    # units of another kind
    ("attt 2 buổi", "tính theo người, không tính theo 'buổi'"),
    ("tập huấn 25 người", "tính theo buổi, không tính theo 'người'"),
    ("voso 3 người", "tính theo gian hàng, không tính theo 'người'"),
    ("momo 4 người", "tính theo tài khoản, không tính theo 'người'"),
    ("vneid 3 hồ sơ", "tính theo người, không tính theo 'hồ sơ'"),
    ("dvc 5 lượt", "Hãy ghi số hồ sơ đã làm, ví dụ: /ghi dvc 5 hồ sơ"),
    ("sổ sức khỏe 2 buổi", "tính theo người"),
    # a number in an item-only unit that no indicator takes is a mistyped item, never lost in the note
    ("dinh danh 2 nguoi, dv cong 1 ho so", "Số '1 ho so' chưa rõ thuộc chỉ tiêu nào"),
    # words around names alone suggest nothing
    ("hướng dẫn 3", "Không có chỉ tiêu 'hướng dẫn'. Gõ /chitieu"),
]


def test_at_least_sixty_new_cases() -> None:
    assert len(RECORDED) + len(REFUSED) >= 60


@pytest.mark.parametrize(("message", "items", "day", "note"), RECORDED, ids=[m for m, *_ in RECORDED])
def test_recorded_exactly(message: str, items: list[tuple[str, int]], day: date | None, note: object) -> None:
    parsed = parse_log(message, CAT, TODAY)
    assert [(i.code, i.quantity) for i in parsed.items] == items
    assert parsed.activity_date == day
    if note is not ...:
        assert parsed.note == note


@pytest.mark.parametrize(("message", "phrase"), REFUSED, ids=[m for m, _ in REFUSED])
def test_refused_with_the_form_to_send(message: str, phrase: str) -> None:
    with pytest.raises(LogParseError) as caught:
        parse_log(message, CAT, TODAY)
    assert phrase in caught.value.message
    assert "Chưa có gì được ghi." in caught.value.message and "/ghi" in caught.value.message


def test_tagged_people_show_by_name_when_the_platform_names_them() -> None:
    parsed = parse_log(
        "dvc 2 cùng [@77aa] và Lò Văn Pọm", CAT, TODAY, people={"[@77aa]": "Hà Thị Mây", "Lò Văn Pọm": "Lò Văn Pọm"}
    )
    assert [(i.code, i.quantity) for i in parsed.items] == [("dvc", 2)]
    assert parsed.note == "cùng Hà Thị Mây và Lò Văn Pọm"


def test_suggestions_come_only_from_whole_names() -> None:
    assert CAT.suggest("huong dan") is None
    assert CAT.suggest("cai ung dung zalo") is None
    assert CAT.suggest("tao tai khoan thanh toan") is not None
    spec = CAT.suggest("trên")  # a word of the name "gian hàng trên Voso, Postmart" is not that name
    assert spec is None or spec.code != "tmdt"


# The one date grammar: the new forms, read the same way by /ghi (past) and deadlines (future).
SPELLED = [
    ("ngày 3 tháng 11", "past", D(2026, 11, 3)),
    ("3 tháng 11", "past", D(2026, 11, 3)),
    ("ngày 3 tháng 12", "future", D(2026, 12, 3)),
    ("ngày 3 tháng 12", "past", D(2026, 12, 3)),  # like 3/12: this year (refused by /ghi as not yet come)
    ("ngày 3 tháng 8", "future", D(2027, 8, 3)),
    ("mùng 4", "past", D(2026, 11, 4)),
    ("mùng 4", "future", D(2026, 12, 4)),
    ("mồng 10 tháng 10", "past", D(2026, 10, 10)),
    ("hôm thứ 6", "past", D(2026, 11, 20)),
    ("bữa t7", "past", D(2026, 11, 21)),
    ("thứ 2 tuần vừa qua", "past", D(2026, 11, 16)),
    ("thứ 4 tuần trước nữa", "past", D(2026, 11, 11)),
    ("2 hôm trước", "past", D(2026, 11, 23)),
]


@pytest.mark.parametrize(("typed", "direction", "expected"), SPELLED, ids=[f"{t}-{d}" for t, d, _ in SPELLED])
def test_spelled_days(typed: str, direction: str, expected: date) -> None:
    words = fold(typed).split()
    hit = match_date(words, 0, TODAY, direction)  # type: ignore[arg-type]
    assert hit is not None and hit.value == expected and hit.size == len(words)


@pytest.mark.parametrize("week", ["tuần rồi", "tuần qua", "tuần vừa qua", "tuần vừa rồi", "tuần trước nữa", "tuần này"])
def test_a_relative_week_is_not_a_day_but_is_a_period(week: str) -> None:
    with pytest.raises(DateError, match=re.escape(f"'{week}' không phải một ngày")):
        match_date(fold(week).split(), 0, TODAY, "past")
    period = parse_period(week, TODAY)
    assert period.kind == "week" and period.start.weekday() == 0 and period.start <= TODAY
    assert period.start == D(2026, 11, 23) - timedelta(
        days=7 * (2 if "nua" in fold(week) else 0 if "nay" in fold(week) else 1)
    )


def test_blind_set_helper_scores_the_field_corpus() -> None:
    corpus = Path(__file__).parents[2] / "data" / "field_messages.tsv"
    result = score(read_tsv(corpus), TODAY)
    assert result.total > 250 and result.wrong == [] and result.share >= 0.98
    bad = score([("vneid=5", "/ghi vneid khoảng 5"), ("REFUSE", "vneid 5"), ("vneid=5", "vneid 5")], TODAY)
    assert (bad.recorded_right, bad.refused_right, len(bad.refused_clear), len(bad.wrong)) == (1, 0, 1, 1)


# ---------------------------------------------------------------- properties

_NUMBER = st.integers(min_value=1, max_value=60).map(str)
_PIECES = st.one_of(
    st.sampled_from(
        [
            "vneid", "dvc", "momo", "tập huấn", "ứng dụng", "app", "cài", "cho", "hỗ trợ", "hướng dẫn", "tạo", "mở",
            "người", "hồ sơ", "buổi", "hộ", "tk", "thôn", "xóm", "nhà số", "lúc", "giờ", "sđt", "tuổi", "sinh năm",
            "khoảng", "hơn", "gần", "tầm", "trên", "đến", "tới", "hoặc", "-", "+", "~", "trở lên", "thêm", "nữa",
            "tổng", "cả tuần", "ngày", "mai", "chị Mai", "sẽ", "dự kiến", "kế hoạch", "tới đây",
            "hôm thứ 5", "ngày 3 tháng 11", "mùng 2", "mùng 29", "tuần vừa qua", "tuần trước nữa", "3 ngày trước",
            "9g15", "14h", "8 giờ sáng", "lúc 9:15", "0987 654 321", "0987.654.321", "[@8756287263669629130]",
            "[@f414c8ab]", "@lan_ho", ",", ";", "và", "ghi chú:",
        ]
    ),
    _NUMBER,
    st.tuples(_NUMBER, _NUMBER).map(lambda p: f"{p[0]}-{p[1]}"),
    st.tuples(_NUMBER, st.sampled_from(["+", "g15", "h", "h30"])).map("".join),
)  # fmt: skip


def _note_numbers(text: str) -> list[str]:
    return numbers_in(text)


def _accounted(text: str, today: date = TODAY) -> None:
    """Every number of a recorded message is an item's quantity, part of its date, or kept in its note (where
    times, phone numbers, addresses, ages and years stay)."""
    parsed = parse_log(text, CAT, today)
    quantities = [str(i.quantity) for i in parsed.items]
    date_digits: set[str] = set()
    if parsed.activity_date is not None:
        d = parsed.activity_date
        date_digits = {str(d.day), f"{d.day:02d}", str(d.month), f"{d.month:02d}", str(d.year), str(d.year % 100)}
        date_digits |= {str(n) for n in range(2, 8)} | {str((today - d).days)}  # "thứ 6", "3 ngày trước"
    note_numbers = _note_numbers(parsed.note or "")
    for number in numbers_in(text):
        value = str(int(number))
        if number in note_numbers:
            note_numbers.remove(number)
        elif value in quantities:
            quantities.remove(value)
        else:
            assert number in date_digits, (text, number, parsed)
    assert quantities == [], (text, parsed)


@settings(max_examples=800, deadline=None)
@given(st.lists(_PIECES, max_size=12).map(" ".join))
def test_every_number_is_accounted_for_or_nothing_is_recorded(text: str) -> None:
    try:
        _accounted(text)
    except LogParseError:
        return


@settings(max_examples=400, deadline=None)
@given(
    st.lists(_PIECES, max_size=10).map(" ".join),
    st.dates(min_value=D(2024, 1, 1), max_value=D(2028, 12, 31)),
)
def test_no_recorded_date_is_in_the_future(text: str, today: date) -> None:
    try:
        parsed = parse_log(text, CAT, today)
    except LogParseError:
        return
    assert parsed.activity_date is None or parsed.activity_date <= today


_APPROX_WORDS = st.sampled_from(["khoảng", "khoang", "hơn", "gần", "tầm", "chừng", "trên", "xấp xỉ", "ít nhất", "~"])
_INEXACT = st.one_of(
    st.tuples(_APPROX_WORDS, _NUMBER).map(lambda p: f"{p[0]} {p[1]}" if p[0] != "~" else f"~{p[1]}"),
    st.tuples(_NUMBER, st.sampled_from(["-", " - ", " đến ", " tới ", " hoặc ", " hay ", "–"]), _NUMBER).map("".join),
    _NUMBER.map(lambda n: f"{n}+"),
    st.tuples(_NUMBER, st.sampled_from(["trở lên", "người trở lên", "mấy"])).map(" ".join),
)  # fmt: skip
_SURROUNDING = st.lists(
    st.sampled_from(["dvc 2", "momo 1 tk", "ở thôn 3", "lúc 9g", "cùng [@abc123]", "hôm qua", ",", "tại UBND xã"]),
    max_size=3,
).map(" ".join)


@settings(max_examples=400, deadline=None)
@given(_SURROUNDING, st.sampled_from(["vneid", "định danh", "vssid", "sổ sức khỏe"]), _INEXACT, _SURROUNDING)
def test_a_range_or_approximate_number_never_becomes_a_record(before: str, name: str, inexact: str, after: str) -> None:
    text = f"{before} {name} {inexact} {after}"
    with pytest.raises(LogParseError):
        parse_log(text, CAT, TODAY)
