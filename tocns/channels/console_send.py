"""The console transport: outbox messages for console chats are printed, so a local trial shows reminders,
digests and directives arriving in the groups they were sent to."""

from __future__ import annotations

import sys
from typing import TextIO

from tocns.channels.base import SendResult, SendStatus
from tocns.core.messages import Attachment


class ConsoleTransport:
    """Prints each message with the chat it is addressed to."""

    platform = "console"
    max_text_length = 100_000

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    async def send(self, chat_id: str, text: str, attachments: list[Attachment], skip: int = 0) -> SendResult:
        """Print the message and its attachments' names; always succeeds."""
        lines = [f"[bot gửi tới {chat_id}] {text}"]
        lines.extend(f"[tệp đính kèm: {a.filename}]" for a in attachments)
        print("\n".join(lines), file=self.out, flush=True)
        return SendResult(SendStatus.OK)
