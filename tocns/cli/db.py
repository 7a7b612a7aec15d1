"""`tocns db upgrade`: apply database migrations."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `db` subcommands."""
    db = sub.add_parser("db", help="cơ sở dữ liệu").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser("upgrade", help="áp dụng các migration còn thiếu")
    upgrade.add_argument("--revision", default="head")
    upgrade.set_defaults(func=_upgrade, database="creates")


def _upgrade(args: argparse.Namespace) -> int:
    from tocns.config import get_settings
    from tocns.db.engine import upgrade_database

    settings = get_settings()
    settings.ensure_data_dir()
    upgrade_database(settings.database_url, args.revision)
    print(f"Cơ sở dữ liệu đã được nâng cấp tới {args.revision}.")
    return 0
