"""The local console: chat with the bot from a terminal or through stdin; outbox messages for console chats
are printed, so a local trial shows reminders, digests and directives arriving in their groups."""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from tocns.channels.base import SendResult, SendStatus
from tocns.core.files import FetchError, save_attachment
from tocns.core.mentions import render_plain
from tocns.core.messages import Attachment, ChatType, IncomingMessage, Reply
from tocns.core.updates import MessageHandler

if TYPE_CHECKING:
    import httpx

    from tocns.config import Settings

log = logging.getLogger(__name__)

PLATFORM = "console"
PHOTO_COMMAND = "/anh"
"""`/anh FILE <caption>` sends the picture FILE with its caption, as a photo message on Telegram or Zalo would."""
MAX_PHOTO_BYTES = 10_000_000
"""The largest picture the console sends (Telegram's own limit for a photo)."""
PHOTO_USAGE = (
    "Cách gửi ảnh thử: /anh <tệp ảnh> <lời nhắn kèm ảnh>, ví dụ: /anh anh-hop-dan.jpg /ghi vneid 5. "
    'Tên tệp có khoảng trắng thì đặt trong ngoặc kép: /anh "ảnh họp.jpg" /ghi vneid 5'
)


class ConsolePhotoError(ValueError):
    """A `/anh` line that cannot be sent: its message is the Vietnamese line to print."""


_PHOTO_LINE = re.compile(r"""(?:"([^"]+)"|'([^']+)'|(\S+))\s*(.*)""", re.DOTALL)


def read_photo(line: str) -> tuple[Path, str]:
    """The picture file and the caption of a `/anh FILE <caption>` line; raises ConsolePhotoError saying why not."""
    rest = line.strip()[len(PHOTO_COMMAND) :].strip()
    match = _PHOTO_LINE.fullmatch(rest)
    if not rest or match is None:
        raise ConsolePhotoError(f"Thiếu tệp ảnh. {PHOTO_USAGE}")
    path = Path(match.group(1) or match.group(2) or match.group(3)).expanduser()
    caption = match.group(4).strip()
    if not caption:
        raise ConsolePhotoError(f"Ảnh cần lời nhắn kèm theo (lệnh, ví dụ /ghi vneid 5). {PHOTO_USAGE}")
    if not path.is_file():
        raise ConsolePhotoError(f"Không tìm thấy tệp ảnh «{path}». {PHOTO_USAGE}")
    mime = mimetypes.guess_type(path.name)[0] or ""
    if not mime.startswith("image/"):
        raise ConsolePhotoError(f"«{path.name}» không phải tệp ảnh (.jpg, .png, .webp). {PHOTO_USAGE}")
    if path.stat().st_size > MAX_PHOTO_BYTES:
        raise ConsolePhotoError(f"Ảnh «{path.name}» lớn hơn {MAX_PHOTO_BYTES // 1_000_000} MB; hãy chọn ảnh nhỏ hơn.")
    return path, caption


async def fetch_photo(_settings: Settings, source: str, _client: httpx.AsyncClient) -> tuple[bytes, str]:
    """A photo typed with /anh: the file it names on this machine; its bytes and name (raises FetchError when gone)."""
    path = Path(source)
    if not path.is_file():
        raise FetchError("tệp ảnh không còn trên máy này", str(path))
    return path.read_bytes(), path.name


class ConsoleChannel:
    """Reads one message per line and prints each reply; `deliver_outbox` prints what was queued meanwhile."""

    def __init__(
        self,
        pipeline: MessageHandler,
        *,
        chat_id: str = "console-group",
        user_id: str = "1",
        name: str = "Người dùng thử",
        private: bool = False,
        attachments_dir: Path = Path("data/console"),
        files_dir: Path = Path("data/files"),
        out: TextIO | None = None,
        deliver_outbox: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.chat_id = chat_id
        self.user_id = user_id
        self.name = name
        self.private = private
        self.attachments_dir = attachments_dir
        # Where a `/anh` picture is kept, as a platform's photo would be (the app's FILES_DIR).
        self.files_dir = files_dir
        self.out = out or sys.stdout
        self.transport = ConsoleTransport(self.out)
        self._deliver_outbox = deliver_outbox

    def to_incoming(self, text: str, photo: str | None = None) -> IncomingMessage:
        """Translate a typed line (with the stored picture of a `/anh` line) into a neutral message."""
        return IncomingMessage(
            photo=photo,
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
        lines = [f"{prefix}{render_plain(reply.text)}"]
        for attachment in reply.attachments:
            self.attachments_dir.mkdir(parents=True, exist_ok=True)
            path = self.attachments_dir / attachment.filename
            path.write_bytes(attachment.content)
            lines.append(f"[tệp đính kèm: {path}]")
        return "\n".join(lines)

    def photo_message(self, line: str) -> IncomingMessage:
        """A `/anh FILE <caption>` line as a photo message: the picture is kept under FILES_DIR (as a download from
        a platform would be) and the caption is the message's text; raises ConsolePhotoError."""
        path, caption = read_photo(line)
        mime = mimetypes.guess_type(path.name)[0] or "image/jpeg"
        kept = save_attachment(str(self.files_dir), Attachment(path.name, path.read_bytes(), mime))
        return self.to_incoming(caption, photo=str(kept))

    async def send_line(self, text: str) -> list[Reply]:
        """Handle one typed message (a `/anh` line as a photo message) and print its replies."""
        if text.split(maxsplit=1)[:1] == [PHOTO_COMMAND]:
            try:
                message = self.photo_message(text)
            except ConsolePhotoError as exc:
                print(str(exc), file=self.out, flush=True)
                return []
        else:
            message = self.to_incoming(text)
        replies = await self.pipeline.handle(message)
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
        return await self._deliver_outbox() if self._deliver_outbox is not None else 0

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

        async def next_line() -> str | None:
            if interactive:
                try:
                    return await loop.run_in_executor(None, input, "> ")
                except EOFError:
                    return None
            line = await loop.run_in_executor(None, stream.readline)
            return line.rstrip("\r\n") if line else None

        while (message := await read_message(next_line)) is not None:
            if message.strip():
                await self.send_line(message)


MULTILINE_FENCE = '"""'
"""A line holding only this opens (and closes) a pasted multi-line message in the console."""


async def read_message(next_line: Callable[[], Awaitable[str | None]]) -> str | None:
    """One message from typed lines: a line, lines joined while each ends with a backslash, or a fenced paste.

    A paste is every line between two lines of three double quotes (MULTILINE_FENCE).

    A month plan (`/giaoviec thang 12/2026` then one task per line) is one message on Telegram; the console needs
    a way to say where such a message ends. None at the end of input.
    """
    line = await next_line()
    if line is None:
        return None
    if line.strip() == MULTILINE_FENCE:
        pasted: list[str] = []
        while (more := await next_line()) is not None and more.strip() != MULTILINE_FENCE:
            pasted.append(more)
        return "\n".join(pasted)
    lines = [line]
    while lines[-1].endswith("\\"):
        lines[-1] = lines[-1][:-1]
        more = await next_line()
        if more is None:
            break
        lines.append(more)
    return "\n".join(lines)


class ConsoleTransport:
    """Prints each message with the chat it is addressed to."""

    platform = "console"
    max_text_length = 100_000

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    async def send(
        self, chat_id: str, text: str, attachments: list[Attachment], skip: int = 0, thread_id: str | None = None
    ) -> SendResult:
        """Print the message and its attachments' names; always succeeds."""
        lines = [f"[bot gửi tới {chat_id}] {render_plain(text)}"]
        lines.extend(f"[tệp đính kèm: {a.filename}]" for a in attachments)
        print("\n".join(lines), file=self.out, flush=True)
        return SendResult(SendStatus.OK)
