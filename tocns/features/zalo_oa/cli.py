"""`tocns zalo-oa authorize|groups`: store the Official Account's first token pair, list its groups to bind."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from tocns.config import Settings


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `zalo-oa` subcommand and its actions."""
    oa = sub.add_parser("zalo-oa", help="Zalo Official Account (nhóm GMF): cấp quyền, danh sách nhóm").add_subparsers(
        dest="zalo_oa_command", required=True
    )
    authorize = oa.add_parser(
        "authorize",
        help="lưu token đầu tiên: từ ZALO_OA_REFRESH_TOKEN (API Explorer) hoặc từ mã cấp quyền (--code)",
    )
    authorize.add_argument("--code", help="mã cấp quyền (code=...) trên địa chỉ callback sau khi quản trị OA đồng ý")
    authorize.add_argument("--verifier", help="code_verifier (PKCE) dùng khi tạo đường dẫn cấp quyền, nếu có")
    authorize.add_argument("--refresh-token", help="refresh token, thay cho ZALO_OA_REFRESH_TOKEN")
    authorize.set_defaults(func=_authorize)
    groups = oa.add_parser("groups", help="liệt kê các nhóm GMF của OA (mã nhóm để gắn với xã)")
    groups.set_defaults(func=_groups)
    bind = oa.add_parser("bind", help="gắn một nhóm GMF với một đơn vị (như /ketnoi gõ trong nhóm)")
    bind.add_argument("group_id", help="mã nhóm trong `tocns zalo-oa groups`")
    bind.add_argument("org_code", help="mã đơn vị, ví dụ mã xã")
    bind.set_defaults(func=_bind)


def _configured(settings: Settings) -> str | None:
    missing = [n for n in ("zalo_oa_app_id", "zalo_oa_app_secret") if not getattr(settings, n)]
    return ", ".join(n.upper() for n in missing) or None


def _run(work: Any) -> int:
    """Run `work(settings, tokens)` against the configured database; Zalo's refusals become one line."""
    from tocns.channels.zalo_oa import TokenDead, TokenUnavailable
    from tocns.cli_common import prepared_settings
    from tocns.db.engine import Database
    from tocns.features.zalo_oa.tokens import oa_tokens

    settings = prepared_settings()
    missing = _configured(settings)
    if missing:
        print(f"Lỗi: chưa đặt {missing} (xem docs/zalo.md).", file=sys.stderr)
        return 2

    async def go() -> int:
        db = Database(settings.database_url)
        tokens = oa_tokens(db, settings)
        try:
            return int(await work(settings, tokens))
        except TokenDead as exc:
            print(f"Lỗi: {exc}", file=sys.stderr)
            return 1
        except TokenUnavailable as exc:
            print(f"Lỗi: không gọi được máy chủ Zalo ({exc}); thử lại sau.", file=sys.stderr)
            return 1
        finally:
            await tokens.oauth.aclose()
            await db.dispose()

    return asyncio.run(go())


def _authorize(args: argparse.Namespace) -> int:
    async def work(settings: Settings, tokens: Any) -> int:
        if args.code:
            state = await tokens.authorize(args.code, args.verifier)
        else:
            refresh = args.refresh_token or settings.zalo_oa_refresh_token
            if not refresh:
                print(
                    "Lỗi: cần ZALO_OA_REFRESH_TOKEN (hoặc --refresh-token, hoặc --code <mã cấp quyền>).",
                    file=sys.stderr,
                )
                return 2
            state = await tokens.bootstrap(refresh)
        from tocns.core.dates import fmt_time

        expires = fmt_time(state.expires_at, settings.tz)
        print(f"Đã lưu token Zalo OA (hết hạn {expires}; bot tự làm mới trước đó).")
        if not args.code:
            print(
                "Refresh token vừa dùng đã hết hiệu lực (Zalo cấp token mới, bot giữ trong cơ sở dữ liệu): "
                "có thể xoá ZALO_OA_REFRESH_TOKEN khỏi .env.",
                file=sys.stderr,
            )
        return 0

    return _run(work)


def _groups(args: argparse.Namespace) -> int:
    from tocns.channels.zalo_oa import OaApi

    async def work(settings: Settings, tokens: Any) -> int:
        api = OaApi(settings, tokens)
        try:
            groups = await api.groups()
        except RuntimeError as exc:
            print(f"Lỗi: Zalo từ chối liệt kê nhóm ({exc}).", file=sys.stderr)
            return 1
        finally:
            await api.aclose()
        if not groups:
            print("OA chưa có nhóm GMF nào (tạo nhóm trong OA Manager).")
            return 0
        print("mã nhóm\ttrạng thái\tthành viên\ttên\tliên kết")
        for group in groups:
            fields = ("group_id", "status", "total_member", "name", "group_link")
            print("\t".join(str(group.get(f, "")) for f in fields))
        print(
            "Gắn một nhóm với xã: tocns zalo-oa bind <mã nhóm> <mã xã>, hoặc gõ /ketnoi <mã> trong nhóm "
            "(mã: tocns joincode <mã xã>).",
            file=sys.stderr,
        )
        return 0

    return _run(work)


def _bind(args: argparse.Namespace) -> int:
    from tocns.channels.zalo_oa import PLATFORM
    from tocns.cli_common import run_in_session
    from tocns.features.org import store as org_store

    async def work(session: AsyncSession) -> str:
        unit = await org_store.require_unit(session, args.org_code)
        await org_store.bind_chat(session, platform=PLATFORM, chat_id=args.group_id.strip(), unit=unit, person=None)
        return unit.name

    name = run_in_session(work)
    print(f"Đã gắn nhóm Zalo OA {args.group_id} với {name}.")
    return 0
