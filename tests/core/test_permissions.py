"""Every command × role × chat context through the real pipeline: who may do what, and where (issue 14).

The world: province P01 (communes X1 with teams Thôn 1, Thôn 3, Bản Nà Hin; X2 with Thôn 1) and province P02
(commune Y1 with Thôn 1). People: a member and a team leader of X1's Thôn 1, X1's commune leader, department
staff of P01, and a stranger with no role. Chats: the group bound to the person's own unit (X1's coordination
group; the department's group for staff), the group of another commune of the same province (X2), the group of
another province's commune (Y1), the person's private chat, and an unbound group.

Each case runs in a rehearsal of the same world (one transaction, rolled back), so a case never sees another's
work. For every case the test reads what a user would notice (the reply: done, or the Vietnamese refusal) and
what was written (every table but the inbound marks and people's last-seen stamps): a refusal writes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from tests.factories import ChatHarness, FakeClock, add_indicators, build_tree
from tocns.app import BotApp, build_registry
from tocns.config import Settings
from tocns.core.roles import Level, Role
from tocns.db.engine import Database
from tocns.features.org import store as org_store
from tocns.features.org.models import JoinCode, Person

# ------------------------------------------------------------------------------------------------ the world

PLAIN_MEMBER, TEAM_LEADER, COMMUNE_LEADER, STAFF, STRANGER = (
    "member",
    "team_leader",
    "commune_leader",
    "staff",
    "stranger",
)
ROLES = (PLAIN_MEMBER, TEAM_LEADER, COMMUNE_LEADER, STAFF, STRANGER)
OWN, OTHER_UNIT, OTHER_PROVINCE, PRIVATE, UNBOUND = "own", "other_unit", "other_province", "private", "unbound"
CONTEXTS = (OWN, OTHER_UNIT, OTHER_PROVINCE, PRIVATE, UNBOUND)

USERS = {
    PLAIN_MEMBER: "u-member",
    TEAM_LEADER: "u-tl",
    COMMUNE_LEADER: "u-cl",
    STAFF: "u-staff",
    STRANGER: "u-stranger",
}
NAMES = {PLAIN_MEMBER: "Lan", TEAM_LEADER: "Minh", COMMUNE_LEADER: "Hùng", STAFF: "Mai", STRANGER: "Khách"}
# The person /vaitro names: a member of X1's Thôn 1.
TARGET_USER, TARGET_NAME, TARGET_USERNAME = "u-hoa", "Hoa", "hoa"
# Province P02's staff, Y1's commune leader and a member of Y1's Thôn 1 (P02's directive and record #2).
STAFF_2, LEADER_Y1, MEMBER_Y1 = "u-staff2", "u-cl-y1", "u-member-y1"

GROUP_P1, GROUP_X1, GROUP_X2, GROUP_Y1, GROUP_FREE = "g-p1", "g-x1", "g-x2", "g-y1", "g-free"


def chat_of(role: str, context: str) -> tuple[str, bool]:
    """The chat (id, private?) a person of `role` types in, in `context`."""
    if context == OWN:
        return (GROUP_P1 if role == STAFF else GROUP_X1), False
    if context == OTHER_UNIT:
        return GROUP_X2, False
    if context == OTHER_PROVINCE:
        return GROUP_Y1, False
    if context == PRIVATE:
        return f"p-{USERS[role]}", True
    return GROUP_FREE, False


@dataclass
class World:
    """What the cases type besides fixed numbers (records #1-#2, task #1, directives #1-#3): the join codes."""

    team_code: str
    staff_code_on_commune: str


async def build_world(app: BotApp, chat: ChatHarness, clock: FakeClock) -> World:
    """Two provinces, their people and groups; records #1 (X1) and #2 (Y1), task #1 (X1), directives #1 (X1),
    #2 (P02's, to Y1) and #3 (P01's, to X1 and X2, waiting for /xacnhan)."""
    async with app.db.session() as session:
        tree = await build_tree(session)
        p2 = await org_store.create_unit(session, code="P02", name="Tỉnh Khác", level=Level.PROVINCE)
        y1 = await org_store.create_unit(session, code="Y1", name="Xã Yên Bình", level=Level.COMMUNE, parent=p2)
        y1_team = await org_store.add_team(session, "Y1", "Thôn 1")
        await add_indicators(session)
        thon1, thon3 = tree.teams[0], tree.teams[1]
        people: dict[str, Person] = {}
        for key, user, name, username in [
            *((role, USERS[role], NAMES[role], None) for role in ROLES),
            ("target", TARGET_USER, TARGET_NAME, TARGET_USERNAME),
            ("staff2", STAFF_2, "Tú", None),
            ("leader_y1", LEADER_Y1, "Yến", None),
            ("member_y1", MEMBER_Y1, "Vân", None),
        ]:
            people[key] = await org_store.upsert_person(
                session, platform="console", user_id=user, display_name=name, username=username, now=clock()
            )
        for key, unit, role in [
            (PLAIN_MEMBER, thon1, Role.MEMBER),
            ("target", thon1, Role.MEMBER),
            (TEAM_LEADER, thon1, Role.TEAM_LEADER),
            (COMMUNE_LEADER, tree.commune, Role.COMMUNE_LEADER),
            (STAFF, tree.province, Role.STAFF),
            ("staff2", p2, Role.STAFF),
            ("leader_y1", y1, Role.COMMUNE_LEADER),
            ("member_y1", y1_team, Role.MEMBER),
        ]:
            await org_store.set_membership(session, person=people[key], unit=unit, role=role)
        for chat_id, unit in [
            (GROUP_P1, tree.province),
            (GROUP_X1, tree.commune),
            (GROUP_X2, tree.other_commune),
            (GROUP_Y1, y1),
        ]:
            await org_store.bind_chat(session, platform="console", chat_id=chat_id, unit=unit, person=None)
        team_code = await org_store.create_join_code(
            session, unit=thon3, role=Role.TEAM_LEADER, ttl=timedelta(days=7), now=clock()
        )
        # A staff code on a commune, as an operator could issue before staff roles were bound to a province.
        bad = JoinCode(
            code="STAFFX1X", org_unit_id=tree.commune.id or 0, role=Role.STAFF, expires_at=clock() + timedelta(days=7)
        )
        session.add(bad)
    setup = [
        (USERS[PLAIN_MEMBER], GROUP_X1, False, "/ghi vneid 3", "Đã ghi #1"),
        (MEMBER_Y1, GROUP_Y1, False, "/ghi dvc 1", "Đã ghi #2"),
        (USERS[COMMUNE_LEADER], GROUP_X1, False, "/giaoviec 30/11 Tập huấn VNeID tổ Thôn 1", "Đã giao việc #1"),
        (USERS[STAFF], f"p-{USERS[STAFF]}", True, "/chidao X1: Họp giao ban thứ Sáu", "Đã gửi chỉ đạo số 1"),
        (STAFF_2, "p-staff2", True, "/chidao Y1: Việc riêng của tỉnh khác", "Đã gửi chỉ đạo số 2"),
        (USERS[STAFF], f"p-{USERS[STAFF]}", True, "/chidao X1, X2: Kiểm tra số liệu", "Chỉ đạo số 3"),
    ]
    for user, chat_id, private, typed, expected in setup:
        reply = await chat.text(typed, user=user, chat=chat_id, private=private)
        assert expected in reply, reply
    return World(team_code=team_code.code, staff_code_on_commune=bad.code)


# ---------------------------------------------------------------------------------------------- a case runs

# Inbound marks and people's last-seen stamps change on every message, done or refused.
IGNORED_TABLES = {"inbound_update", "processed_message", "person"}
Rows = dict[str, dict[Any, dict[str, Any]]]


async def snapshot(db: Database) -> Rows:
    """Every row, by primary key, of every table a command could write."""
    out: Rows = {}
    async with db.session() as session:
        conn = await session.connection()
        for table in SQLModel.metadata.sorted_tables:
            if table.name not in IGNORED_TABLES:
                rows = (await conn.execute(text(f'SELECT * FROM "{table.name}"'))).all()
                # A table keyed by one column (most: `id`) by its value; a composite key by the tuple.
                key = [column.name for column in table.primary_key.columns]
                out[table.name] = {
                    (row._mapping[key[0]] if len(key) == 1 else tuple(row._mapping[k] for k in key)): dict(row._mapping)
                    for row in rows
                }
    return out


@dataclass
class Seen:
    """What one case produced: the reply, the tables written, the chats messaged, the roles granted."""

    reply: str
    written: set[str]
    queued: set[str]
    granted: set[tuple[str, str]]


def _seen(reply: str, before: Rows, after: Rows) -> Seen:
    written = {name for name in before if before[name] != after[name]}
    queued = {row["chat_id"] for key, row in after["outbox"].items() if key not in before["outbox"]}
    codes = {key: row["code"] for key, row in after["org_unit"].items()}
    granted = {
        (codes[row["org_unit_id"]], row["role"])
        for key, row in after["membership"].items()
        if key not in before["membership"] or before["membership"][key]["role"] != row["role"]
    }
    return Seen(reply, written, queued, granted)


async def run_case(app: BotApp, settings: Settings, clock: FakeClock, role: str, context: str, typed: str) -> Seen:
    """Type `typed` as `role` in `context` inside a rehearsal of the world (rolled back afterwards)."""
    async with app.db.rehearsal() as view:
        chat = ChatHarness(BotApp.build(settings, view, clock))
        before = await snapshot(view)
        chat_id, private = chat_of(role, context)
        reply = await chat.text(
            typed, user=USERS[role], name=NAMES[role], chat=chat_id, private=private, message_id="case"
        )
        return _seen(reply, before, await snapshot(view))


# ------------------------------------------------------------------------------------------- the outcomes


@dataclass(frozen=True)
class Outcome:
    """What the user must see (a phrase of the reply) and what must be written, queued and granted."""

    says: str
    done: bool
    writes: frozenset[str] = frozenset()
    queued: frozenset[str] = frozenset()
    grants: frozenset[tuple[str, str]] = frozenset()

    def mismatch(self, seen: Seen) -> str | None:
        """Why `seen` is not this outcome, or None when it is."""
        # "{n}" stands for a new record's number (PostgreSQL does not roll sequences back with the rehearsal).
        if not re.search(r"\d+".join(re.escape(part) for part in self.says.split("{n}")), seen.reply):
            return f"expected {'done' if self.done else 'refused'}: {self.says!r}, got {seen.reply[:160]!r}"
        if seen.written != set(self.writes):
            return f"wrote {sorted(seen.written)}, expected {sorted(self.writes)} ({seen.reply[:80]!r})"
        if seen.queued != set(self.queued):
            return f"queued to {sorted(seen.queued)}, expected {sorted(self.queued)}"
        if seen.granted != set(self.grants):
            return f"granted {sorted(seen.granted)}, expected {sorted(self.grants)}"
        return None


def done(
    says: str, writes: Iterable[str], queued: Iterable[str] = (), grants: Iterable[tuple[str, str]] = ()
) -> Outcome:
    """Allowed: the reply says it was done, exactly these tables were written, these chats messaged, roles granted."""
    return Outcome(says, True, frozenset(writes), frozenset(queued), frozenset(grants))


def shown(says: str) -> Outcome:
    """Allowed and read-only: the reply shows something, nothing is written."""
    return Outcome(says, True)


def refused(says: str) -> Outcome:
    """Refused with this Vietnamese reason; nothing written, queued or granted."""
    return Outcome(says, False)


NO = refused("Bạn không có quyền dùng lệnh /")  # the router's role check
Columns = tuple[Outcome, Outcome, Outcome, Outcome]  # own, other_unit, other_province, unbound


def all4(outcome: Outcome) -> Columns:
    """The same outcome in the four group contexts."""
    return (outcome, outcome, outcome, outcome)


def every(outcome: Outcome) -> dict[str, Outcome]:
    """The same outcome for every role (a private-chat rule)."""
    return dict.fromkeys(ROLES, outcome)


@dataclass(frozen=True)
class Case:
    """One representative invocation of a command and its expected outcome for each role in each group context;
    the private-chat column lives in PRIVATE_CHAT under the same key."""

    key: str
    typed: Callable[[World], str]
    groups: dict[str, Columns]


# ----------------------------------------------------------------------------------------- the rules table

AUDIT = "audit_log"
# The month totals (targets) and the rollups follow every record.
ROLLUPS = {
    "activity_month_total",
    "rollup_team_day",
    "rollup_team_day_records",
    "rollup_commune_day",
    "rollup_commune_day_records",
}
RECORD = {"activity_record", "activity_item", AUDIT, *ROLLUPS}
DIRECTIVE_SENT = {"directive", "directive_target", "outbox"}

LINK_BOUND = refused("Nhóm này đã được kết nối với")
# A team's code typed in its commune's (or province's) group: the role is granted, the group stays bound.
CODE_ROLE = done(
    "Thôn 3 (X1-T02). Nhóm vẫn kết nối với",
    {AUDIT, "join_code", "membership"},
    grants={("X1-T02", Role.TEAM_LEADER)},
)
WEB_PRIVATE_ONLY = refused("hãy nhắn /web trong tin nhắn riêng với bot")
WEB_LINK = done("Link đăng nhập trang điều hành", {"dashboard_link"})
STAFF_CODE = refused("vai trò này chỉ giao ở cấp tỉnh")
LINKED = done(
    "Đã kết nối nhóm này với Thôn 3 (X1-T02).",
    {AUDIT, "chat_binding", "join_code", "membership"},
    grants={("X1-T02", Role.TEAM_LEADER)},
)
JOINED = done("đã tham gia Bản Nà Hin (X1-T03)", {AUDIT, "membership"}, grants={("X1-T03", Role.MEMBER)})
NO_SUCH_TEAM = refused("Không tìm thấy tổ “ban na hin”")
NOT_IN_TEAM = refused("Bạn chưa ở tổ nào: gõ /thamgia <tên tổ> trước")
NO_ROSTER = refused("không còn tên nào trong danh sách đã nhập chờ nhận")
TOILA_IN_GROUP = refused("Lệnh /toila dùng trong nhóm đã kết nối")
JOIN_IN_GROUP = refused("Lệnh /thamgia dùng trong nhóm điều phối đã kết nối")
ROLE_IN_GROUP = refused("Lệnh /vaitro dùng trong nhóm đã kết nối với đơn vị.")
MADE_TEAM_LEADER = done(
    "Đã giao vai trò Tổ trưởng của Thôn 1 (X1-T01) cho Hoa.",
    {AUDIT, "membership"},
    grants={("X1-T01", Role.TEAM_LEADER)},
)
MADE_STAFF = done(
    "Đã giao vai trò Cán bộ Sở của Tỉnh Thử (P01) cho Hoa.", {AUDIT, "membership"}, grants={("P01", Role.STAFF)}
)
STAFF_ABOVE_RANK = refused("Bạn không có quyền giao vai trò Cán bộ Sở trong Tỉnh Thử")
LOGGED = done("Đã ghi #{n} cho Thôn 1 (Xã Tân Lập)", RECORD)
NO_TEAM = refused("Bạn chưa ở tổ nào")
# Same day and team: the record counts stay, only the quantities move.
EDITED = done("Đã sửa phiếu #1.", RECORD - {"rollup_team_day_records", "rollup_commune_day_records"})
DELETED = done("Đã xóa phiếu #1", {"activity_record", AUDIT, *ROLLUPS})


def not_yours(verb: str) -> Outcome:
    """/sua or /xoa of a record the person may not change."""
    return refused(f"Bạn không được {verb} phiếu #2")


def in_group(command: str) -> Outcome:
    """A task or report command typed outside a bound group."""
    return refused(f"Lệnh /{command} dùng trong nhóm đã kết nối")


def in_commune(command: str) -> Outcome:
    """A task command typed in the department's (province) group."""
    return refused(f"Lệnh /{command} dùng trong nhóm của một xã/phường hoặc một tổ.")


ASSIGNED = done("Đã giao việc #{n}: “Hướng dẫn dịch vụ công”", {AUDIT, "task", "task_assignee"})
TASKS = shown("Việc chưa xong (1):")
TASK_DONE = done("Đã ghi nhận Thôn 1 hoàn thành việc #1", {AUDIT, "task_assignee"})
NO_TASK_HERE = refused("Không có việc #1 trong Xã Hòa Bình")
CANCELLED = done("Đã huỷ việc #1", {AUDIT, "task"})
REPORT_X1 = shown("BÁO CÁO XÃ TÂN LẬP")
NOT_IN_REACH = refused("Không tìm thấy xã/phường 'Yên Bình'")
NOT_A_COMMUNE_OF_MINE = refused("Chưa chắc 'Yên Bình' là xã/phường nào")
PLAN_X1 = shown("KẾ HOẠCH NĂM 2026: XÃ TÂN LẬP")
TARGET_SET = done("Đã đặt mục tiêu năm 2026 của Thôn 1", {AUDIT, "target"})
TWO_THON_1 = refused("Chưa chắc 'Thôn 1' là tổ nào. Có 2 đơn vị gần giống:\n- Thôn 1 (mã X1-T01)")
NO_TARGET_RIGHT = refused("Bạn không có quyền đặt mục tiêu cho Thôn 1")
SETTINGS_SAVED = done("Đã lưu. Nhắc việc của Xã Tân Lập", {AUDIT, "task_reminder_setting"})
SENT_TO_X1 = done("Đã gửi chỉ đạo số {n} (Xã Tân Lập (X1)) tới 1 nhóm", DIRECTIVE_SENT, queued={GROUP_X1})
OUTSIDE_PROVINCE = refused("Chỉ gửi được tới các xã thuộc Tỉnh Thử (P01); ngoài phạm vi: Xã Yên Bình (Y1).")
OUTSIDE_P02 = refused("Chỉ gửi được tới các xã thuộc Tỉnh Thử (P01); ngoài phạm vi: Tỉnh Khác (P02).")
HELD_FOR_PROVINCE = done("Chỉ đạo số {n} (toàn tỉnh) sẽ gửi tới 2 nhóm của 2 xã/phường", {"directive"})
NOT_SENT_HERE_1 = refused("Chỉ đạo số 1 không gửi tới nhóm/đơn vị của bạn")
NOT_SENT_HERE_2 = refused("Chỉ đạo số 2 không gửi tới nhóm/đơn vị của bạn")


def acked(who: str) -> Outcome:
    """/danhan 1 recorded for X1, naming the person and their role."""
    return done(f"Đã ghi nhận: {who}, Xã Tân Lập) đã nhận chỉ đạo số 1", {"directive_ack"})


STATUS_1 = shown("Chỉ đạo số 1 (Xã Tân Lập (X1)), gửi lúc")
NO_DIRECTIVE_2 = refused("Không có chỉ đạo số 2.")
CONFIRMED = done("Đã gửi chỉ đạo số 3", DIRECTIVE_SENT, queued={GROUP_X1, GROUP_X2})
RECALLED = done("Đã thu hồi chỉ đạo số 1", {"directive", "outbox"})
NOT_AUTHOR_2 = refused("Chỉ người soạn chỉ đạo số 2 mới xác nhận gửi được.")
NOT_SENDER_2 = refused("Chỉ người gửi chỉ đạo số 2 mới thu hồi được.")

# Columns: own unit, another unit of the same province (X2), another province (Y1), an unbound group.
STAFF_ONLY = {PLAIN_MEMBER: all4(NO), TEAM_LEADER: all4(NO), COMMUNE_LEADER: all4(NO), STRANGER: all4(NO)}

EXPECTED: dict[str, list[Case]] = {
    "batdau": [Case("batdau", lambda w: "/batdau", every(all4(shown("Các lệnh bạn dùng được:"))))],
    "huongdan": [Case("huongdan", lambda w: "/huongdan", every(all4(shown("Các lệnh bạn dùng được:"))))],
    "ketnoi": [
        # A join code is a bearer credential: whoever types it binds an unbound group; a bound group stays bound,
        # and in the group of the code's commune (or province) it grants the code's role.
        Case("ketnoi", lambda w: f"/ketnoi {w.team_code}", every((CODE_ROLE, LINK_BOUND, LINK_BOUND, LINKED))),
        # A staff code issued on a commune (before the rule) grants nothing anywhere: staff belong to a province.
        Case(
            "ketnoi staff code on a commune",
            lambda w: f"/ketnoi {w.staff_code_on_commune}",
            every((STAFF_CODE, LINK_BOUND, LINK_BOUND, STAFF_CODE)),
        ),
    ],
    "thamgia": [
        # Joining a team of the group's unit: presence in the group is the authority; staff's own group is the
        # province's, whose teams include X1's.
        Case("thamgia", lambda w: "/thamgia ban na hin", every((JOINED, NO_SUCH_TEAM, NO_SUCH_TEAM, JOIN_IN_GROUP)))
    ],
    "toila": [
        # Claiming an imported name: only inside a team of the group's unit, and X1's teams have no roster left.
        Case(
            "toila",
            lambda w: "/toila 1",
            {
                **every((NOT_IN_TEAM, NOT_IN_TEAM, NOT_IN_TEAM, TOILA_IN_GROUP)),
                PLAIN_MEMBER: (NO_ROSTER, NOT_IN_TEAM, NOT_IN_TEAM, TOILA_IN_GROUP),
                TEAM_LEADER: (NO_ROSTER, NOT_IN_TEAM, NOT_IN_TEAM, TOILA_IN_GROUP),
            },
        )
    ],
    "vaitro": [
        Case(
            "vaitro team leader",
            lambda w: "/vaitro @hoa to truong",
            {
                PLAIN_MEMBER: all4(NO),
                TEAM_LEADER: (MADE_TEAM_LEADER, NO, NO, ROLE_IN_GROUP),
                COMMUNE_LEADER: (MADE_TEAM_LEADER, NO, NO, ROLE_IN_GROUP),
                STAFF: (MADE_TEAM_LEADER, refused("Hoa chưa tham gia tổ nào trong Xã Hòa Bình"), NO, ROLE_IN_GROUP),
                STRANGER: all4(NO),
            },
        ),
        # Staff is granted on the province, by staff only, and never from another province's group.
        Case(
            "vaitro staff",
            lambda w: "/vaitro @hoa can bo so",
            {
                PLAIN_MEMBER: all4(NO),
                TEAM_LEADER: (STAFF_ABOVE_RANK, NO, NO, ROLE_IN_GROUP),
                COMMUNE_LEADER: (STAFF_ABOVE_RANK, NO, NO, ROLE_IN_GROUP),
                STAFF: (MADE_STAFF, MADE_STAFF, NO, ROLE_IN_GROUP),
                STRANGER: all4(NO),
            },
        ),
    ],
    "ghi": [
        # A record goes to the sender's team within the group's unit; outside a bound group, to their team.
        Case(
            "ghi",
            lambda w: "/ghi vneid 2",
            {
                PLAIN_MEMBER: (LOGGED, NO_TEAM, NO_TEAM, LOGGED),
                TEAM_LEADER: (LOGGED, NO_TEAM, NO_TEAM, LOGGED),
                COMMUNE_LEADER: all4(NO_TEAM),
                STAFF: all4(NO_TEAM),
                STRANGER: all4(NO_TEAM),
            },
        )
    ],
    "sua": [
        # Record #1 is the member's, of X1's Thôn 1: its author, its team's leader and those above may change it.
        Case(
            "sua",
            lambda w: "/sua 1 vneid 4",
            {
                PLAIN_MEMBER: (EDITED, NO, NO, EDITED),
                TEAM_LEADER: (EDITED, NO, NO, EDITED),
                COMMUNE_LEADER: (EDITED, NO, NO, EDITED),
                STAFF: (EDITED, EDITED, NO, EDITED),
                STRANGER: all4(NO),
            },
        ),
        # Record #2 is of Y1's Thôn 1 (P02): nobody here may change it, whatever chat they type in.
        Case(
            "sua other province",
            lambda w: "/sua 2 dvc 9",
            {
                **{
                    r: (not_yours("sửa"), NO, NO, not_yours("sửa")) for r in (PLAIN_MEMBER, TEAM_LEADER, COMMUNE_LEADER)
                },
                STAFF: (not_yours("sửa"), not_yours("sửa"), NO, not_yours("sửa")),
                STRANGER: all4(NO),
            },
        ),
    ],
    "xoa": [
        Case(
            "xoa",
            lambda w: "/xoa 1",
            {
                PLAIN_MEMBER: (DELETED, NO, NO, DELETED),
                TEAM_LEADER: (DELETED, NO, NO, DELETED),
                COMMUNE_LEADER: (DELETED, NO, NO, DELETED),
                STAFF: (DELETED, DELETED, NO, DELETED),
                STRANGER: all4(NO),
            },
        ),
        Case(
            "xoa other province",
            lambda w: "/xoa 2",
            {
                **{
                    r: (not_yours("xóa"), NO, NO, not_yours("xóa")) for r in (PLAIN_MEMBER, TEAM_LEADER, COMMUNE_LEADER)
                },
                STAFF: (not_yours("xóa"), not_yours("xóa"), NO, not_yours("xóa")),
                STRANGER: all4(NO),
            },
        ),
    ],
    "cuatoi": [
        # One's own records, wherever asked.
        Case(
            "cuatoi",
            lambda w: "/cuatoi",
            {
                PLAIN_MEMBER: all4(shown("Phiếu của Lan trong tuần 23/11/2026 - 29/11/2026:")),
                **{r: all4(shown("Bạn chưa ghi phiếu nào")) for r in (TEAM_LEADER, COMMUNE_LEADER, STAFF, STRANGER)},
            },
        )
    ],
    "chitieu": [Case("chitieu", lambda w: "/chitieu", every(all4(shown("Các chỉ tiêu"))))],
    "giaoviec": [
        Case(
            "giaoviec",
            lambda w: "/giaoviec 30/11 Hướng dẫn dịch vụ công tổ Thôn 1",
            {
                PLAIN_MEMBER: all4(NO),
                TEAM_LEADER: (ASSIGNED, NO, NO, in_group("giaoviec")),
                COMMUNE_LEADER: (ASSIGNED, NO, NO, in_group("giaoviec")),
                # In X2's group, staff (above X2) assign to X2's own Thôn 1.
                STAFF: (in_commune("giaoviec"), ASSIGNED, NO, in_group("giaoviec")),
                STRANGER: all4(NO),
            },
        )
    ],
    "nhiemvu": [
        Case(
            "nhiemvu",
            lambda w: "/nhiemvu",
            {
                PLAIN_MEMBER: (TASKS, NO, NO, in_group("nhiemvu")),
                TEAM_LEADER: (TASKS, NO, NO, in_group("nhiemvu")),
                COMMUNE_LEADER: (TASKS, NO, NO, in_group("nhiemvu")),
                STAFF: (in_commune("nhiemvu"), shown("Không có việc nào đang chờ."), NO, in_group("nhiemvu")),
                STRANGER: all4(NO),
            },
        )
    ],
    "xong": [
        # Task #1 is X1's, assigned to Thôn 1.
        Case(
            "xong",
            lambda w: "/xong 1",
            {
                PLAIN_MEMBER: (TASK_DONE, NO, NO, in_group("xong")),
                TEAM_LEADER: (TASK_DONE, NO, NO, in_group("xong")),
                COMMUNE_LEADER: (refused("Việc #1 không giao cho bạn hay tổ của bạn."), NO, NO, in_group("xong")),
                STAFF: (in_commune("xong"), NO_TASK_HERE, NO, in_group("xong")),
                STRANGER: all4(NO),
            },
        )
    ],
    "huyviec": [
        # Task #1 was assigned by X1's commune leader.
        Case(
            "huyviec",
            lambda w: "/huyviec 1",
            {
                PLAIN_MEMBER: all4(NO),
                TEAM_LEADER: (
                    refused("Chỉ người giao việc #1 hoặc lãnh đạo Xã Tân Lập mới huỷ được"),
                    NO,
                    NO,
                    in_group("huyviec"),
                ),
                COMMUNE_LEADER: (CANCELLED, NO, NO, in_group("huyviec")),
                STAFF: (in_commune("huyviec"), NO_TASK_HERE, NO, in_group("huyviec")),
                STRANGER: all4(NO),
            },
        )
    ],
    "baocao": [
        Case(
            "baocao",
            lambda w: "/baocao",
            {
                PLAIN_MEMBER: (REPORT_X1, NO, NO, in_group("baocao")),
                TEAM_LEADER: (REPORT_X1, NO, NO, in_group("baocao")),
                COMMUNE_LEADER: (REPORT_X1, NO, NO, in_group("baocao")),
                STAFF: (shown("BÁO CÁO TỈNH THỬ"), shown("BÁO CÁO XÃ HÒA BÌNH"), NO, in_group("baocao")),
                STRANGER: all4(NO),
            },
        ),
        # Another province's commune by name: never found from where these people stand.
        Case(
            "baocao other province",
            lambda w: "/baocao xã Yên Bình",
            {
                **{
                    r: (refused("Không tìm thấy xã/phường 'Yên Bình' trong Xã Tân Lập"), NO, NO, NOT_IN_REACH)
                    for r in (PLAIN_MEMBER, TEAM_LEADER, COMMUNE_LEADER)
                },
                STAFF: (NOT_A_COMMUNE_OF_MINE, NOT_A_COMMUNE_OF_MINE, NO, NOT_A_COMMUNE_OF_MINE),
                STRANGER: all4(NO),
            },
        ),
    ],
    "kehoach": [
        Case(
            "kehoach",
            lambda w: "/kehoach",
            {
                PLAIN_MEMBER: (PLAN_X1, NO, NO, in_group("kehoach")),
                TEAM_LEADER: (PLAN_X1, NO, NO, in_group("kehoach")),
                COMMUNE_LEADER: (PLAN_X1, NO, NO, in_group("kehoach")),
                STAFF: (
                    shown("KẾ HOẠCH NĂM 2026: TỈNH THỬ"),
                    shown("KẾ HOẠCH NĂM 2026: XÃ HÒA BÌNH"),
                    NO,
                    in_group("kehoach"),
                ),
                STRANGER: all4(NO),
            },
        )
    ],
    "muctieu": [
        # Commune leaders set their teams' targets; staff any unit of their province; nobody else.
        Case(
            "muctieu team",
            lambda w: "/muctieu 2026 tổ Thôn 1 vneid 10",
            {
                PLAIN_MEMBER: (NO_TARGET_RIGHT, NO, NO, in_group("muctieu")),
                TEAM_LEADER: (NO_TARGET_RIGHT, NO, NO, in_group("muctieu")),
                COMMUNE_LEADER: (TARGET_SET, NO, NO, in_group("muctieu")),
                # Two "Thôn 1" in the province: named back with their codes, never guessed.
                STAFF: (TWO_THON_1, TARGET_SET, NO, in_group("muctieu")),
                STRANGER: all4(NO),
            },
        )
    ],
    "caidat": [
        Case(
            "caidat",
            lambda w: "/caidat nhac 3,1,0",
            {
                PLAIN_MEMBER: all4(NO),
                TEAM_LEADER: all4(NO),
                COMMUNE_LEADER: (SETTINGS_SAVED, NO, NO, in_group("caidat")),
                STAFF: (
                    in_commune("caidat"),
                    done("Đã lưu. Nhắc việc của Xã Hòa Bình", {AUDIT, "task_reminder_setting"}),
                    NO,
                    in_group("caidat"),
                ),
                STRANGER: all4(NO),
            },
        )
    ],
    "chidao": [
        # A directive's reach is the sender's staff units, wherever they type it (but not from a group where they
        # hold no role).
        Case(
            "chidao own commune",
            lambda w: "/chidao X1: Họp",
            {**STAFF_ONLY, STAFF: (SENT_TO_X1, SENT_TO_X1, NO, SENT_TO_X1)},
        ),
        Case(
            "chidao other province",
            lambda w: "/chidao Y1: Họp",
            {**STAFF_ONLY, STAFF: (OUTSIDE_PROVINCE, OUTSIDE_PROVINCE, NO, OUTSIDE_PROVINCE)},
        ),
        Case(
            "chidao other province's unit",
            lambda w: "/chidao đơn vị P02: Họp",
            {**STAFF_ONLY, STAFF: (OUTSIDE_P02, OUTSIDE_P02, NO, OUTSIDE_P02)},
        ),
        Case(
            "chidao whole province",
            lambda w: "/chidao toàn tỉnh: Rà soát",
            {**STAFF_ONLY, STAFF: (HELD_FOR_PROVINCE, HELD_FOR_PROVINCE, NO, HELD_FOR_PROVINCE)},
        ),
    ],
    "danhan": [
        # Directive #1 went to X1's group only; acknowledging needs a role in X1, in a group it was sent to.
        Case(
            "danhan",
            lambda w: "/danhan 1",
            {
                PLAIN_MEMBER: (acked("Lan (Thành viên tổ"), NOT_SENT_HERE_1, NOT_SENT_HERE_1, NOT_SENT_HERE_1),
                TEAM_LEADER: (acked("Minh (Tổ trưởng"), NOT_SENT_HERE_1, NOT_SENT_HERE_1, NOT_SENT_HERE_1),
                COMMUNE_LEADER: (acked("Hùng (Lãnh đạo xã/phường"), NOT_SENT_HERE_1, NOT_SENT_HERE_1, NOT_SENT_HERE_1),
                STAFF: all4(NOT_SENT_HERE_1),
                STRANGER: (
                    refused("Bạn chưa giữ vai trò nào ở Xã Tân Lập"),
                    NOT_SENT_HERE_1,
                    NOT_SENT_HERE_1,
                    NOT_SENT_HERE_1,
                ),
            },
        ),
        # Directive #2 is P02's, sent to Y1's group: in that group nobody here holds a role in Y1.
        Case(
            "danhan other province",
            lambda w: "/danhan 2",
            every(
                (NOT_SENT_HERE_2, NOT_SENT_HERE_2, refused("Bạn chưa giữ vai trò nào ở Xã Yên Bình"), NOT_SENT_HERE_2)
            ),
        ),
    ],
    "tinhtrang": [
        Case(
            "tinhtrang",
            lambda w: "/tinhtrang 1",
            {**STAFF_ONLY, STAFF: (STATUS_1, STATUS_1, NO, STATUS_1), COMMUNE_LEADER: (STATUS_1, NO, NO, STATUS_1)},
        ),
        # Another province's directive is answered as if it did not exist.
        Case(
            "tinhtrang other province",
            lambda w: "/tinhtrang 2",
            {
                **STAFF_ONLY,
                STAFF: (NO_DIRECTIVE_2, NO_DIRECTIVE_2, NO, NO_DIRECTIVE_2),
                # Commune leaders read their own communes' directives (issue 13), nothing else.
                COMMUNE_LEADER: (NO_DIRECTIVE_2, NO, NO, NO_DIRECTIVE_2),
            },
        ),
    ],
    # The dashboard's one-time link: leaders and staff, only in a private chat (a group refuses, writes nothing).
    "web": [
        Case(
            "web",
            lambda w: "/web",
            {
                PLAIN_MEMBER: all4(NO),
                TEAM_LEADER: (WEB_PRIVATE_ONLY, NO, NO, WEB_PRIVATE_ONLY),
                COMMUNE_LEADER: (WEB_PRIVATE_ONLY, NO, NO, WEB_PRIVATE_ONLY),
                STAFF: (WEB_PRIVATE_ONLY, WEB_PRIVATE_ONLY, NO, WEB_PRIVATE_ONLY),
                STRANGER: all4(NO),
            },
        )
    ],
    "xacnhan": [
        Case("xacnhan", lambda w: "/xacnhan 3", {**STAFF_ONLY, STAFF: (CONFIRMED, CONFIRMED, NO, CONFIRMED)}),
        # Only a directive's author confirms or recalls it: P02's directive stays untouched.
        Case(
            "xacnhan other province",
            lambda w: "/xacnhan 2",
            {**STAFF_ONLY, STAFF: (NOT_AUTHOR_2, NOT_AUTHOR_2, NO, NOT_AUTHOR_2)},
        ),
    ],
    "thuhoi": [
        Case("thuhoi", lambda w: "/thuhoi 1", {**STAFF_ONLY, STAFF: (RECALLED, RECALLED, NO, RECALLED)}),
        Case(
            "thuhoi other province",
            lambda w: "/thuhoi 2",
            {**STAFF_ONLY, STAFF: (NOT_SENDER_2, NOT_SENDER_2, NO, NOT_SENDER_2)},
        ),
    ],
}

# The private chat with the bot, per case and role: today's behaviour, kept in one place because issue 13 changes
# it (leaders' /baocao, /nhiemvu, /tinhtrang on the units where they hold a role; members' /ketnoi).
PRIVATE_CHAT: dict[str, dict[str, Outcome]] = {
    # In private, the help names the person's units and what works there (issue 13).
    "batdau": {**every(shown("Các lệnh bạn dùng được trong tin nhắn riêng")), STRANGER: shown("chưa giữ vai trò nào")},
    "huongdan": {
        **every(shown("Các lệnh bạn dùng được trong tin nhắn riêng")),
        STRANGER: shown("chưa giữ vai trò nào"),
    },
    # A code typed in private grants its role but binds no group (issue 13 changes this for members).
    "ketnoi": every(done("Đã ghi nhận: ", {AUDIT, "join_code", "membership"}, grants={("X1-T02", Role.TEAM_LEADER)})),
    "ketnoi staff code on a commune": every(STAFF_CODE),
    "thamgia": every(JOIN_IN_GROUP),
    "toila": every(TOILA_IN_GROUP),
    "vaitro team leader": {**every(ROLE_IN_GROUP), PLAIN_MEMBER: NO, STRANGER: NO},
    "vaitro staff": {**every(ROLE_IN_GROUP), PLAIN_MEMBER: NO, STRANGER: NO},
    "ghi": {**every(NO_TEAM), PLAIN_MEMBER: LOGGED, TEAM_LEADER: LOGGED},
    "sua": {**every(EDITED), STRANGER: NO},
    "sua other province": {**every(not_yours("sửa")), STRANGER: NO},
    "xoa": {**every(DELETED), STRANGER: NO},
    "xoa other province": {**every(not_yours("xóa")), STRANGER: NO},
    "cuatoi": {**every(shown("Bạn chưa ghi phiếu nào")), PLAIN_MEMBER: shown("Phiếu của Lan")},
    "chitieu": every(shown("Các chỉ tiêu")),
    # Issue 13: unit-scoped commands act in private on the unit where the person holds a role; staff hold a
    # province, where task commands do not apply.
    "giaoviec": {
        PLAIN_MEMBER: NO,
        TEAM_LEADER: ASSIGNED,
        COMMUNE_LEADER: ASSIGNED,
        STAFF: in_commune("giaoviec"),
        STRANGER: NO,
    },
    "nhiemvu": {**every(TASKS), STAFF: in_commune("nhiemvu"), STRANGER: NO},
    "xong": {
        PLAIN_MEMBER: TASK_DONE,
        TEAM_LEADER: TASK_DONE,
        COMMUNE_LEADER: refused("Việc #1 không giao cho bạn hay tổ của bạn."),
        STAFF: in_commune("xong"),
        STRANGER: NO,
    },
    "huyviec": {
        PLAIN_MEMBER: NO,
        TEAM_LEADER: refused("Chỉ người giao việc #1 hoặc lãnh đạo Xã Tân Lập mới huỷ được việc này."),
        COMMUNE_LEADER: CANCELLED,
        STAFF: in_commune("huyviec"),
        STRANGER: NO,
    },
    "baocao": {
        PLAIN_MEMBER: shown("BÁO CÁO THÔN 1"),
        TEAM_LEADER: shown("BÁO CÁO THÔN 1"),
        COMMUNE_LEADER: REPORT_X1,
        STAFF: shown("BÁO CÁO TỈNH THỬ"),
        STRANGER: NO,
    },
    "baocao other province": {
        **every(NOT_IN_REACH),
        STAFF: NOT_A_COMMUNE_OF_MINE,
        STRANGER: NO,
    },
    "kehoach": {
        PLAIN_MEMBER: shown("KẾ HOẠCH NĂM 2026: THÔN 1"),
        TEAM_LEADER: shown("KẾ HOẠCH NĂM 2026: THÔN 1"),
        COMMUNE_LEADER: PLAN_X1,
        STAFF: shown("KẾ HOẠCH NĂM 2026: TỈNH THỬ"),
        STRANGER: NO,
    },
    "muctieu team": {**every(NO_TARGET_RIGHT), COMMUNE_LEADER: TARGET_SET, STAFF: TWO_THON_1, STRANGER: NO},
    "caidat": {**every(NO), COMMUNE_LEADER: SETTINGS_SAVED, STAFF: in_commune("caidat")},
    "chidao own commune": {**every(NO), STAFF: SENT_TO_X1},
    "chidao other province": {**every(NO), STAFF: OUTSIDE_PROVINCE},
    "chidao other province's unit": {**every(NO), STAFF: OUTSIDE_P02},
    "chidao whole province": {**every(NO), STAFF: HELD_FOR_PROVINCE},
    "danhan": {
        **every(NOT_SENT_HERE_1),
        PLAIN_MEMBER: acked("Lan (Thành viên tổ"),
        TEAM_LEADER: acked("Minh (Tổ trưởng"),
        COMMUNE_LEADER: acked("Hùng (Lãnh đạo xã/phường"),
    },
    "danhan other province": every(NOT_SENT_HERE_2),
    "tinhtrang": {**every(NO), STAFF: STATUS_1, COMMUNE_LEADER: STATUS_1},  # issue 13: their communes' directives
    "tinhtrang other province": {**every(NO), STAFF: NO_DIRECTIVE_2, COMMUNE_LEADER: NO_DIRECTIVE_2},
    "web": {**every(WEB_LINK), PLAIN_MEMBER: NO, STRANGER: NO},
    "xacnhan": {**every(NO), STAFF: CONFIRMED},
    "xacnhan other province": {**every(NO), STAFF: NOT_AUTHOR_2},
    "thuhoi": {**every(NO), STAFF: RECALLED},
    "thuhoi other province": {**every(NO), STAFF: NOT_SENDER_2},
}


def expected(case: Case, role: str, context: str) -> Outcome:
    """The outcome the rules give `role` typing `case` in `context`."""
    if context == PRIVATE:
        return PRIVATE_CHAT[case.key][role]
    return case.groups[role][(OWN, OTHER_UNIT, OTHER_PROVINCE, UNBOUND).index(context)]


# ------------------------------------------------------------------------------------------------- the tests

REGISTERED = sorted(c.name for c in build_registry().all())


def test_every_command_has_rules() -> None:
    """A command added to the registry without a row here fails (and a row for a command that went away)."""
    assert sorted(EXPECTED) == REGISTERED
    for command, cases in EXPECTED.items():
        assert cases, command
        for case in cases:
            assert set(case.groups) == set(ROLES), case.key
            assert set(PRIVATE_CHAT[case.key]) == set(ROLES), case.key
    assert sorted(PRIVATE_CHAT) == sorted(case.key for cases in EXPECTED.values() for case in cases)


@pytest.mark.parametrize("command", REGISTERED)
async def test_command_by_role_and_chat(
    app: BotApp, chat: ChatHarness, clock: FakeClock, settings: Settings, command: str
) -> None:
    """Each case of the command, as each role, in each chat: the reply and the writes the rules give."""
    world = await build_world(app, chat, clock)
    wrong: list[str] = []
    for case in EXPECTED[command]:
        typed = case.typed(world)
        for role in ROLES:
            for context in CONTEXTS:
                seen = await run_case(app, settings, clock, role, context, typed)
                problem = expected(case, role, context).mismatch(seen)
                if problem is not None:
                    wrong.append(f"{typed!r} as {role} in {context}: {problem}")
    assert not wrong, "\n".join(wrong)


# ------------------------------------------------------------------------------------ the API: route × token

# One authority rule for chat and API (issue 22): a token acts with the role of its unit's authority (province →
# department staff, commune → commune leader, team → team leader) through the same check as the chat.
PROVINCE_TOKEN, COMMUNE_TOKEN, TEAM_TOKEN = "province", "commune", "team"
TOKEN_UNITS = {PROVINCE_TOKEN: "P01", COMMUNE_TOKEN: "X1", TEAM_TOKEN: "X1-T01"}


@dataclass(frozen=True)
class ApiOutcome:
    """The HTTP status and a phrase of the answer (the Vietnamese detail of a refusal); writes only when allowed."""

    status: int
    says: str = ""
    writes: frozenset[str] = frozenset()


def api_ok(status: int = 200, says: str = "", writes: Iterable[str] = ()) -> ApiOutcome:
    """Allowed: this status, this phrase in the body, exactly these tables written."""
    return ApiOutcome(status, says, frozenset(writes))


def api_forbidden(says: str) -> ApiOutcome:
    """Refused with 403 and this Vietnamese detail; nothing written."""
    return ApiOutcome(403, says)


def role_refusal(unit: str, role: str, command: str, who: str) -> ApiOutcome:
    """The 403 of a token whose unit's role may not run the chat command the route does the work of."""
    return api_forbidden(
        f"Token của {unit} hành động với vai trò {role}; việc này như lệnh /{command} trong chat, chỉ dành cho: {who}."
    )


@dataclass(frozen=True)
class ApiCase:
    """One request to a route and its outcome for each token level."""

    route: tuple[str, str]
    method: str
    url: str
    body: dict[str, str] | None
    outcomes: dict[str, ApiOutcome]


TEAM_ROLE = ("Thôn 1 (X1-T01)", "Tổ trưởng")
API_CASES = [
    ApiCase(
        ("GET", "/api/v1/progress/{org_code}"),
        "GET",
        "/api/v1/progress/X1",
        None,
        {
            PROVINCE_TOKEN: api_ok(says='"unit_code":"X1"'),
            COMMUNE_TOKEN: api_ok(says='"unit_code":"X1"'),
            # /kehoach is open to members: the team's token passes the role check, then the unit bound.
            TEAM_TOKEN: api_forbidden("Token này chỉ đọc được số liệu của Thôn 1 và đơn vị trực thuộc."),
        },
    ),
    ApiCase(
        ("GET", "/api/v1/reports/{org_code}"),
        "GET",
        "/api/v1/reports/X1",
        None,
        {
            PROVINCE_TOKEN: api_ok(says='"unit_code":"X1"'),
            COMMUNE_TOKEN: api_ok(says='"unit_code":"X1"'),
            # /baocao is open to members: the team's token passes the role check, then the unit bound.
            TEAM_TOKEN: api_forbidden("Token này chỉ đọc được báo cáo của Thôn 1 và đơn vị trực thuộc."),
        },
    ),
    ApiCase(
        ("GET", "/api/v1/reports/{org_code}"),
        "GET",
        "/api/v1/reports/Y1",
        None,
        {
            PROVINCE_TOKEN: api_forbidden("Token này chỉ đọc được báo cáo của Tỉnh Thử và đơn vị trực thuộc."),
            COMMUNE_TOKEN: api_forbidden("Token này chỉ đọc được báo cáo của Xã Tân Lập và đơn vị trực thuộc."),
            TEAM_TOKEN: api_forbidden("Token này chỉ đọc được báo cáo của Thôn 1 và đơn vị trực thuộc."),
        },
    ),
    ApiCase(
        ("POST", "/api/v1/directives"),
        "POST",
        "/api/v1/directives",
        {"text": "Họp giao ban", "scope": "X1"},
        {
            PROVINCE_TOKEN: api_ok(201, '"scope":"Xã Tân Lập (X1)"', DIRECTIVE_SENT | {"api_token"}),
            COMMUNE_TOKEN: role_refusal("Xã Tân Lập (X1)", "Lãnh đạo xã/phường", "chidao", "Cán bộ Sở, Quản trị viên"),
            TEAM_TOKEN: role_refusal(*TEAM_ROLE, "chidao", "Cán bộ Sở, Quản trị viên"),
        },
    ),
    ApiCase(
        ("POST", "/api/v1/directives"),
        "POST",
        "/api/v1/directives",
        {"text": "Họp giao ban", "scope": "Y1"},
        {
            PROVINCE_TOKEN: api_forbidden("Chỉ gửi được tới các xã thuộc Tỉnh Thử (P01); ngoài phạm vi: Xã Yên Bình"),
            COMMUNE_TOKEN: role_refusal("Xã Tân Lập (X1)", "Lãnh đạo xã/phường", "chidao", "Cán bộ Sở, Quản trị viên"),
            TEAM_TOKEN: role_refusal(*TEAM_ROLE, "chidao", "Cán bộ Sở, Quản trị viên"),
        },
    ),
    ApiCase(
        ("GET", "/api/v1/directives/{directive_id}"),
        "GET",
        "/api/v1/directives/1",
        None,
        {
            PROVINCE_TOKEN: api_ok(says='"not_acknowledged":[{"code":"X1"'),
            COMMUNE_TOKEN: api_ok(says='"not_acknowledged":[{"code":"X1"'),
            TEAM_TOKEN: role_refusal(*TEAM_ROLE, "tinhtrang", "Lãnh đạo xã/phường, Cán bộ Sở, Quản trị viên"),
        },
    ),
    ApiCase(
        ("GET", "/api/v1/directives/{directive_id}"),
        "GET",
        "/api/v1/directives/2",
        None,
        {
            PROVINCE_TOKEN: api_forbidden("Token này chỉ xem được chỉ đạo gửi trong Tỉnh Thử (P01)."),
            COMMUNE_TOKEN: api_forbidden("Token này chỉ xem được chỉ đạo gửi trong Xã Tân Lập (X1)."),
            TEAM_TOKEN: role_refusal(*TEAM_ROLE, "tinhtrang", "Lãnh đạo xã/phường, Cán bộ Sở, Quản trị viên"),
        },
    ),
]


def test_every_api_route_has_rules(settings: Settings) -> None:
    """A route added under /api/ without a case here fails (and a case for a route that went away)."""
    from tocns.web.app import create_app

    paths = create_app(settings).openapi()["paths"]
    routes = {(method.upper(), path) for path, ops in paths.items() if path.startswith("/api/") for method in ops}
    assert routes == {case.route for case in API_CASES}
    for case in API_CASES:
        assert set(case.outcomes) == set(TOKEN_UNITS), case.url


async def test_api_route_by_token_level(app: BotApp, chat: ChatHarness, clock: FakeClock, settings: Settings) -> None:
    """Each route, with a token of each level: the status, the Vietnamese detail, and writes only when allowed."""
    import httpx

    from tocns.features.apitokens.store import create_token
    from tocns.web.app import create_app

    await build_world(app, chat, clock)
    tokens = {}
    async with app.db.session() as session:
        for level, code in TOKEN_UNITS.items():
            unit = await org_store.require_unit(session, code)
            tokens[level] = await create_token(session, unit, clock())
    wrong: list[str] = []
    for case in API_CASES:
        for level, outcome in case.outcomes.items():
            async with app.db.rehearsal() as view:
                web = create_app(settings, bot_app=BotApp.build(settings, view, clock))
                before = await snapshot(view)
                transport = httpx.ASGITransport(app=web)
                async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                    answer = await client.request(
                        case.method, case.url, json=case.body, headers={"Authorization": f"Bearer {tokens[level]}"}
                    )
                after = await snapshot(view)
            written = {name for name in before if before[name] != after[name]}
            body = answer.text
            if answer.status_code == 403:
                body = answer.json()["detail"]
            elif answer.status_code < 300:
                body = json.dumps(answer.json(), ensure_ascii=False, separators=(",", ":"))
            problem = None
            if answer.status_code != outcome.status or outcome.says not in body:
                problem = f"expected {outcome.status} {outcome.says!r}, got {answer.status_code} {body[:200]!r}"
            elif written - {"api_token"} != outcome.writes - {"api_token"}:
                problem = f"wrote {sorted(written)}, expected {sorted(outcome.writes)}"
            if problem:
                wrong.append(f"{case.method} {case.url} with a {level} token: {problem}")
    assert not wrong, "\n".join(wrong)
