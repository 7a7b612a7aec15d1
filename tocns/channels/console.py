"""The local console adapter: chat with the bot from a terminal, or script it through stdin."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import TextIO

from tocns.channels.console_send import ConsoleTransport
from tocns.core.messages import ChatType, IncomingMessage, Reply
from tocns.core.router import Router

log = logging.getLogger(__name__)

PLATFORM = "console"


class ConsoleAdapter:
    """Reads one message per line and prints each reply."""

    def __init__(
        self,
        router: Router,
        *,
        chat_id: str = "console-group",
        user_id: str = "1",
        name: str = "Người dùng thử",
        private: bool = False,
        attachments_dir: Path = Path("data/console"),
        out: TextIO | None = None,
    ) -> None:
        self.router = router
        self.chat_id = chat_id
        self.user_id = user_id
        self.name = name
        self.private = private
        self.attachments_dir = attachments_dir
        self.out = out or sys.stdout
        self.transport = ConsoleTransport(self.out)

    def to_incoming(self, text: str) -> IncomingMessage:
        """Translate a typed line into a neutral message."""
        return IncomingMessage(
            platform=PLATFORM,
            chat_id=self.chat_id,
            user_id=self.user_id,
            display_name=self.name,
            text=text,
            chat_type=ChatType.PRIVATE if self.private else ChatType.GROUP,
            chat_title="Nhóm thử trên máy",
        )

    def render(self, reply: Reply) -> str:
        """Format a reply for the terminal, saving attachments to files."""
        prefix = "" if reply.chat_id in (None, self.chat_id) else f"[gửi tới {reply.chat_id}] "
        lines = [f"{prefix}{reply.text}"]
        for attachment in reply.attachments:
            self.attachments_dir.mkdir(parents=True, exist_ok=True)
            path = self.attachments_dir / attachment.filename
            path.write_bytes(attachment.content)
            lines.append(f"[tệp đính kèm: {path}]")
        return "\n".join(lines)

    async def send_line(self, text: str) -> list[Reply]:
        """Handle one typed line and print its replies."""
        replies = await self.router.handle(self.to_incoming(text))
        for reply in replies:
            print(self.render(reply), file=self.out, flush=True)
        try:
            await self.deliver_outbox()
        except Exception:
            # The rows stay in the outbox (leased, retried later); the chat itself must go on.
            log.exception("printing the console outbox failed")
        return replies

    async def deliver_outbox(self) -> int:
        """Print what the bot queued for console chats (directives, reminders, digests); returns the count."""
        from tocns.outbox.sender import OutboxSender, PlatformLimits

        # A terminal has no flood limit; what is due now is printed now.
        sender = OutboxSender(
            self.router.db,
            self.router.settings,
            {PLATFORM: self.transport},
            clock=self.router.clock,
            limits={PLATFORM: PlatformLimits.build(1000.0, 1000, 1)},
        )
        delivered = 0
        while handled := await sender.run_once():
            delivered += handled
        return delivered

    async def run(self, stream: TextIO | None = None) -> None:
        """Chat until end of input: a prompt on a terminal, plain line-by-line when scripted."""
        stream = stream or sys.stdin
        interactive = stream.isatty()
        if interactive:
            print(
                f"Đang trò chuyện với bot với tên {self.name!r} (Ctrl+D để thoát). Gõ /huongdan để bắt đầu.",
                file=self.out,
            )
        loop = asyncio.get_running_loop()
        while True:
            if interactive:
                try:
                    line = await loop.run_in_executor(None, input, "> ")
                except EOFError:
                    break
            else:
                line = await loop.run_in_executor(None, stream.readline)
                if not line:
                    break
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            await self.send_line(line)
