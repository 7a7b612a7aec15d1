"""/web: a one-time sign-in link to the dashboard, answered only in a private chat."""

from __future__ import annotations

from tocns.core.context import Context, UserError
from tocns.core.permissions import LEADERS
from tocns.core.registry import CommandGroup
from tocns.features.dashboard import service
from tocns.features.dashboard.store import LINK_TTL

COMMANDS = CommandGroup()
"""This feature's chat commands; `tocns.app` includes them in the registry."""


@COMMANDS.command(
    "web",
    aliases=("dashboard", "trangdieuhanh"),
    vi_name="trang điều hành",
    roles=LEADERS,
    private=True,
    summary="Nhận link đăng nhập trang điều hành trên web (chỉ trong tin nhắn riêng)",
    usage="/web (gõ trong tin nhắn riêng với bot)",
    order=95,
)
async def web(ctx: Context) -> str:
    """Answer with a one-time link bound to the sender and their roles; never in a group, where others could use it."""
    if not ctx.msg.is_private:
        raise UserError(
            "Link đăng nhập là của riêng bạn: hãy nhắn /web trong tin nhắn riêng với bot, không gõ trong nhóm."
        )
    if not service.enabled(ctx.settings):
        raise UserError("Trang điều hành chưa được bật trên máy chủ này (thiếu LINK_SIGNING_SECRET). Hãy báo quản trị.")
    token = await service.link_for_person(ctx.session, ctx.person, ctx.now)
    minutes = int(LINK_TTL.total_seconds() // 60)
    return (
        f"Link đăng nhập trang điều hành (dùng một lần, hiệu lực {minutes} phút, đừng chuyển cho người khác):\n"
        f"{service.sign_in_url(ctx.settings, token)}"
    )
