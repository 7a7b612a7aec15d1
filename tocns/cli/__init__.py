"""The `tocns` operator command line."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from tocns.log_setup import configure_logging

# Each module adds its subcommands with `register(subparsers)`; a new feature adds one line here.
SUBCOMMAND_MODULES = (
    "tocns.cli.db",
    "tocns.features.org.cli",
    "tocns.cli.chat",
    "tocns.cli.demo",
    "tocns.cli.tick",
    "tocns.features.activity.cli",
    "tocns.features.reports.cli",
    "tocns.features.apitokens.cli",
    "tocns.outbox.cli",
    "tocns.inbound.cli",
    "tocns.features.zalo_oa.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="tocns", description="Tổ CNS bot: vận hành và quản trị.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tocns` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except ValidationError as exc:
        print(f"Lỗi cấu hình: {_settings_errors(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _settings_errors(exc: ValidationError) -> str:
    messages = []
    for error in exc.errors():
        ctx_error = error.get("ctx", {}).get("error")
        messages.append(str(ctx_error) if ctx_error else f"{'.'.join(map(str, error['loc']))}: {error['msg']}")
    return "; ".join(messages)


if __name__ == "__main__":
    sys.exit(main())
