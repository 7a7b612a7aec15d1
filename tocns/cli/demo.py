"""`tocns demo`: create a demo province to try the bot."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from tocns.demo import DemoResult


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `demo` subcommand."""
    demo = sub.add_parser("demo", help="tạo một tỉnh thử nghiệm với xã, tổ và thành viên")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=_demo, database="creates")


def _demo(args: argparse.Namespace) -> int:

    from tocns.cli_common import run_in_session
    from tocns.demo import create_demo, describe

    async def work(session: AsyncSession) -> DemoResult:
        return await create_demo(session, seed=args.seed)

    print(describe(run_in_session(work)))
    return 0
