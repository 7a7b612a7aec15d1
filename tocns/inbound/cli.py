"""`tocns inbound failed|retry`: the updates parked after their last attempt failed, and putting them back."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from tocns.inbound.models import InboundUpdate

OPERATOR = "operator-cli"
# What the listing shows of an error: its first line, this long (the log has the traceback).
ERROR_WIDTH = 120


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `inbound` subcommand and its actions."""
    inbound = sub.add_parser("inbound", help="bản tin nhận từ nền tảng: xem và xử lý lại bản tin lỗi")
    actions = inbound.add_subparsers(dest="inbound_command", required=True, metavar="ACTION")
    failed = actions.add_parser("failed", help="liệt kê bản tin đã dừng xử lý sau khi hết số lần thử")
    failed.add_argument("--limit", type=int, default=100, help="số dòng tối đa (mặc định 100)")
    failed.set_defaults(func=_failed)
    retry = actions.add_parser("retry", help="đưa bản tin lỗi về hàng chờ để bot xử lý lại")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", type=int, default=[], metavar="SỐ", help="số của bản tin (xem: failed)")
    which.add_argument("--all", action="store_true", help="mọi bản tin lỗi")
    retry.set_defaults(func=_retry)


def _row(update: InboundUpdate, tz: object) -> str:
    from tocns.core.dates import fmt_time
    from tocns.core.text import one_line

    received = fmt_time(update.received_at, tz)  # type: ignore[arg-type]
    # Only what identifies the update: never the body (names, what people wrote).
    error = one_line(update.error, ERROR_WIDTH) or "-"
    return (
        f"{update.id:<7} {update.platform:<9} {update.chat_key or '-':<16} {received:<17} {update.attempts:<8} {error}"
    )


def _failed(args: argparse.Namespace) -> int:
    from tocns.cli_common import prepared_settings, run_in_session
    from tocns.inbound.store import parked_updates, queue_counts

    tz = prepared_settings().tz

    async def work(session: AsyncSession) -> tuple[list[InboundUpdate], dict[str, int]]:
        return await parked_updates(session, limit=max(1, args.limit)), await queue_counts(session)

    rows, counts = run_in_session(work)
    if not rows:
        print(f"Không có bản tin lỗi nào. Đang chờ xử lý: {counts['pending']}.")
        return 0
    print(f"{'SỐ':<7} {'NỀN TẢNG':<9} {'NHÓM/CHAT':<16} {'NHẬN LÚC':<17} {'LẦN THỬ':<8} LỖI (dòng đầu)")
    for update in rows:
        print(_row(update, tz))
    shown = f"{len(rows)} / {counts['failed']}" if counts["failed"] > len(rows) else str(len(rows))
    print(
        f"{shown} bản tin lỗi; đang chờ xử lý: {counts['pending']}. Sau khi khắc phục nguyên nhân, xử lý lại bằng: "
        "tocns inbound retry <số> (hoặc --all).",
        file=sys.stderr,
    )
    return 0


def _retry(args: argparse.Namespace) -> int:
    from tocns.cli_common import run_in_session
    from tocns.db.audit import record_audit
    from tocns.features.org import models as _org_models  # noqa: F401  (the audit row refers to person.id)
    from tocns.inbound.store import retry_parked

    async def work(session: AsyncSession) -> list[int]:
        put_back = await retry_parked(session, None if args.all else sorted(set(args.ids)))
        for row_id in put_back:
            await record_audit(
                session, action="inbound_retry", entity="inbound_update", entity_id=row_id, actor_label=OPERATOR
            )
        return put_back

    put_back = run_in_session(work)
    missing = sorted(set(args.ids) - set(put_back))
    if put_back:
        numbers = ", ".join(str(n) for n in put_back)
        print(
            f"Đã đưa {len(put_back)} bản tin về hàng chờ (số {numbers}); bot đang chạy (tocns serve hoặc "
            "tocns run) sẽ xử lý lại trong vài giây."
        )
    elif args.all:
        print("Không có bản tin lỗi nào để xử lý lại.")
    if missing:
        numbers = ", ".join(str(n) for n in missing)
        print(
            f"Không có bản tin lỗi số {numbers} (đã xử lý xong, đang chờ, hoặc không tồn tại). Xem danh sách: "
            "tocns inbound failed",
            file=sys.stderr,
        )
        return 1
    return 0
