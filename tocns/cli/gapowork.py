"""`tocns gapowork menu|webhook`: what to paste into GapoWork's bot settings (menu and webhook are set in its UI)."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from tocns.core.registry import Registry
from tocns.core.roles import Role

# GapoWork has no published limit on menu items; a phone shows a short list best.
MENU_ITEMS = 32  # every command fits: a missing one could only be typed


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `gapowork` subcommand and its actions."""
    gapo = sub.add_parser(
        "gapowork", help="GapoWork: menu lệnh và địa chỉ webhook để dán vào cài đặt bot"
    ).add_subparsers(dest="gapowork_command", required=True)
    menu = gapo.add_parser("menu", help="in menu lệnh (tên hiển thị và lệnh gửi đi) để dán vào cài đặt bot GapoWork")
    menu.set_defaults(func=_menu, database="none")
    webhook = gapo.add_parser("webhook", help="in địa chỉ webhook để dán vào cài đặt bot GapoWork")
    webhook.set_defaults(func=_webhook, database="none")


def menu_lines(registry: Registry) -> list[str]:
    """The bot menu from the registry: members' commands first, then leaders' and staff's, each `title | /command`."""
    commands = registry.all()
    everyone = [c for c in commands if Role.MEMBER in c.roles or c.private]
    others = [c for c in commands if c not in everyone]
    lines = []
    for cmd in [*everyone, *others][:MENU_ITEMS]:
        title = (cmd.vi_name or cmd.name).capitalize()
        lines.append(f"{title} | /{cmd.name} | {cmd.summary.strip()}")
    return lines


def print_menu(registry: Registry, out: TextIO) -> None:
    """Print the menu with how to enter it."""
    print(
        "Menu bot GapoWork: mỗi dòng là một mục, «Tên hiển thị | Lệnh gửi đi (payload) | Ghi chú».\n"
        "Trong cài đặt bot GapoWork, thêm từng mục với tên hiển thị và lệnh gửi đi; ĐỂ TRỐNG câu trả lời soạn sẵn:\n"
        "mục có câu trả lời soạn sẵn do GapoWork tự trả lời và không bao giờ tới bot.\n",
        file=out,
    )
    for line in menu_lines(registry):
        print(line, file=out)


def _menu(_args: argparse.Namespace) -> int:
    from tocns.app import build_registry

    print_menu(build_registry(), sys.stdout)
    return 0


def _webhook(_args: argparse.Namespace) -> int:
    from tocns.channels.gapowork import setup_problem, webhook_url
    from tocns.config import get_settings

    settings = get_settings()
    problem = setup_problem(settings)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    url = webhook_url(settings)
    if not url.startswith("https://"):
        print(
            f"GapoWork cần webhook HTTPS: đặt PUBLIC_BASE_URL=https://... (hiện là {settings.public_base_url}).",
            file=sys.stderr,
        )
        return 2
    # Printed for the operator to paste, never logged: it ends in the webhook secret.
    print(url)
    return 0
