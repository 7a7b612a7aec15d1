"""The `tocns` operator command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from tocns.log_setup import configure_logging


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand, mounted explicitly in help order (a new feature adds one line)."""
    # Imported here, not at the top: `tocns --help` stays fast (each feature's CLI loads only when this runs).
    from tocns.cli import chat, db, demo, gapowork, outbox, tick
    from tocns.features.activity import cli as activity_cli
    from tocns.features.apitokens import cli as apitokens_cli
    from tocns.features.dashboard import cli as dashboard_cli
    from tocns.features.org import cli as org_cli
    from tocns.features.reports import cli as reports_cli
    from tocns.features.rollups import cli as rollups_cli
    from tocns.features.targets import cli as targets_cli
    from tocns.features.zalo_oa import cli as zalo_oa_cli
    from tocns.inbound import cli as inbound_cli

    parser = argparse.ArgumentParser(prog="tocns", description="Tổ CNS bot: vận hành và quản trị.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (
        db,
        org_cli,
        chat,
        demo,
        tick,
        activity_cli,
        reports_cli,
        targets_cli,
        rollups_cli,
        apitokens_cli,
        dashboard_cli,
        outbox,
        inbound_cli,
        zalo_oa_cli,
        gapowork,
    ):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tocns` console script: every failure of every subcommand ends here as one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(logging.WARNING)
    # Commands that open sessions without a BotApp (imports, exports) keep the stores' caches right too.
    from tocns.app import register_session_listeners

    register_session_listeners()
    try:
        refused = _check_database(args)
        if refused is not None:
            print(refused, file=sys.stderr)
            return 2
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe (`| head`) fails here, inside the handler, not at interpreter exit
        return code
    except ValidationError as exc:
        print(f"Lỗi cấu hình: {_settings_errors(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except SystemExit:
        raise
    except BaseException as exc:
        return _one_line(exc)


def _one_line(exc: BaseException) -> int:
    """Print the operator's one line for an unexpected failure; the traceback only with LOG_LEVEL=DEBUG."""
    import os

    from tocns.cli.errors import broken_pipe, operator_error

    line, code = operator_error(exc)
    if broken_pipe(exc):
        # Whatever is still buffered for the closed pipe must not fail again at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    if os.environ.get("LOG_LEVEL", "").upper() == "DEBUG":
        logging.getLogger(__name__).exception("tocns failed")
    print(line, file=sys.stderr)
    return code


def _check_database(args: argparse.Namespace) -> str | None:
    """Say which SQLite file a relative DATABASE_URL opens; refuse a missing one unless the command creates it.

    Commands that set up a bot (`db upgrade`, `demo`, `run`, `console`, `serve`, `org import`) may create the file;
    every other command works on existing data, so a missing file means the wrong directory (docs/operators.md).
    """
    need = getattr(args, "database", "existing")
    if callable(need):
        need = need(args)
    if need == "none":
        return None
    from tocns.config import get_settings

    settings = get_settings()
    path = settings.sqlite_path
    if path is None:
        return None
    if need == "existing" and not path.exists():
        return (
            f"Lỗi: chưa có cơ sở dữ liệu {path} (DATABASE_URL); chạy lệnh từ thư mục của bot hoặc sửa DATABASE_URL, "
            "hay tạo mới bằng: tocns db upgrade"
        )
    if settings.sqlite_was_relative:
        print(f"Cơ sở dữ liệu: {path}", file=sys.stderr)
    return None


def _settings_errors(exc: ValidationError) -> str:
    messages = []
    for error in exc.errors():
        ctx_error = error.get("ctx", {}).get("error")
        messages.append(str(ctx_error) if ctx_error else f"{'.'.join(map(str, error['loc']))}: {error['msg']}")
    return "; ".join(messages)


if __name__ == "__main__":
    sys.exit(main())
