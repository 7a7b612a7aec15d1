"""`tocns dashboard link <unit code>`: a one-time sign-in link for the operator, printed as the last line."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `dashboard` subcommand and its actions."""
    dash = sub.add_parser("dashboard", help="trang điều hành trên web (/dashboard/)").add_subparsers(
        dest="dashboard_command", required=True
    )
    link = dash.add_parser("link", help="link đăng nhập một lần (15 phút) để xem đơn vị và các đơn vị trực thuộc")
    link.add_argument("org_code")
    link.set_defaults(func=_link)


def _link(args: argparse.Namespace) -> int:
    from tocns.cli_common import prepared_settings, run_in_session
    from tocns.core.clock import utcnow
    from tocns.features.dashboard import service
    from tocns.features.org import store as org_store

    settings = prepared_settings()
    if not settings.link_signing_secret:
        print(
            "Chưa đặt LINK_SIGNING_SECRET trong .env: trang điều hành cần khóa này để ký phiên đăng nhập.",
            file=sys.stderr,
        )
        return 2

    async def work(session: AsyncSession) -> tuple[str, str]:
        unit = await org_store.require_unit(session, args.org_code)
        return await service.link_for_unit(session, unit, utcnow()), unit.name

    token, name = run_in_session(work)
    print(
        f"Link xem trang điều hành của {name} và các đơn vị trực thuộc (chỉ xem, không gửi chỉ đạo); dùng một lần "
        "trong 15 phút:",
        file=sys.stderr,
    )
    print(service.sign_in_url(settings, token))
    return 0
