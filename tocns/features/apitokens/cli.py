"""`tocns apitoken create|list|revoke`: bearer tokens of the /api/v1 reports and directive API."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession


OPERATOR = "operator-cli"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `apitoken` subcommand and its actions."""
    tok = sub.add_parser("apitoken", help="API token cho /api/v1 (báo cáo, chỉ đạo)").add_subparsers(
        dest="apitoken_command", required=True
    )
    create = tok.add_parser("create", help="tạo token cho đơn vị và các đơn vị trực thuộc")
    create.add_argument("org_code")
    create.add_argument("--label", help="ghi chú, ví dụ tên hệ thống dùng token (hiện là người gửi chỉ đạo)")
    create.set_defaults(func=_create)
    listing = tok.add_parser("list", help="liệt kê token (không hiện lại token, chỉ số, đơn vị, trạng thái)")
    listing.set_defaults(func=_list)
    revoke = tok.add_parser("revoke", help="thu hồi một token theo số; token đã thu hồi bị từ chối (401)")
    revoke.add_argument("token_id", type=int)
    revoke.set_defaults(func=_revoke)


def _create(args: argparse.Namespace) -> int:
    from tocns.cli_common import run_in_session
    from tocns.core.clock import utcnow
    from tocns.core.permissions import role_label, unit_authority
    from tocns.features.apitokens.store import create_token
    from tocns.features.org import store as org_store

    async def work(session: AsyncSession) -> tuple[str, str, str]:
        unit = await org_store.require_unit(session, args.org_code)
        token = await create_token(session, unit, utcnow(), label=args.label, actor_label=OPERATOR)
        return token, unit.name, unit.level

    token, name, level = run_in_session(work)
    print(token)
    print(
        f"Token của {name} và các đơn vị trực thuộc, hành động với vai trò {role_label(unit_authority(level))} "
        "(như trong chat: chỉ Cán bộ Sở, tức token cấp tỉnh, gửi được chỉ đạo). Chỉ hiện một lần; gửi kèm "
        "'Authorization: Bearer <token>' khi gọi /api/v1/reports/<mã> hoặc /api/v1/directives. Tài liệu: /docs",
        file=sys.stderr,
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    from tocns.cli_common import prepared_settings, run_in_session
    from tocns.core.dates import fmt_time
    from tocns.features.apitokens.store import list_tokens

    tz = prepared_settings().tz

    def when(moment: datetime | None) -> str:
        return fmt_time(moment, tz) if moment else "-"

    rows = run_in_session(list_tokens)
    print(f"{'SỐ':<5} {'ĐƠN VỊ':<12} {'TRẠNG THÁI':<28} {'TẠO LÚC':<17} {'DÙNG LẦN CUỐI':<17} GHI CHÚ")
    for token, unit in rows:
        state = f"đã thu hồi {when(token.revoked_at)}" if token.revoked_at else "hiệu lực"
        print(
            f"{token.id:<5} {unit.code:<12} {state:<28} {when(token.created_at):<17} "
            f"{when(token.last_used_at):<17} {token.label or ''}".rstrip()
        )
    if not rows:
        print("Chưa có token nào. Tạo bằng: tocns apitoken create <mã đơn vị>", file=sys.stderr)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from tocns.cli_common import run_in_session
    from tocns.core.clock import utcnow
    from tocns.features.apitokens.store import revoke_token
    from tocns.features.org import store as org_store

    async def work(session: AsyncSession) -> tuple[bool, str]:
        token, fresh = await revoke_token(session, args.token_id, utcnow(), actor_label=OPERATOR)
        unit = await org_store.get_unit(session, token.org_unit_id)
        return fresh, f"{unit.name} ({unit.code})" if unit else str(token.org_unit_id)

    fresh, unit = run_in_session(work)
    if fresh:
        print(f"Đã thu hồi API token số {args.token_id} ({unit}); mọi yêu cầu dùng token này bị từ chối (401).")
    else:
        print(f"API token số {args.token_id} ({unit}) đã bị thu hồi từ trước; không đổi gì.")
    return 0
