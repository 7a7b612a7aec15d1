"""`tocns console`, `tocns run` and `tocns serve`: talk to the bot and serve the platforms."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

    from tocns.app import BotApp
    from tocns.channels.console import ConsoleChannel
    from tocns.config import Settings


log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the chat-serving subcommands."""
    console = sub.add_parser("console", help="trò chuyện với bot ngay trên máy (đọc stdin nếu không phải terminal)")
    _console_args(console)
    console.set_defaults(func=_console, database="creates")

    run = sub.add_parser("run", help="chạy bot: Telegram/Zalo nếu có token, nếu không thì console; kèm bộ lập lịch")
    _console_args(run)
    run.set_defaults(func=_run, database="creates")

    serve = sub.add_parser(
        "serve", help="chạy máy chủ webhook (FastAPI) kèm bộ lập lịch (trên PostgreSQL: một tiến trình riêng)"
    )
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=None, help="số tiến trình webhook (mặc định WEB_WORKERS)")
    serve.set_defaults(func=_serve, database="creates")

    jobs = sub.add_parser(
        "jobs", help="chạy bộ lập lịch và bộ gửi tin trong một tiến trình (tocns serve tự chạy lệnh này)"
    )
    jobs.set_defaults(func=_jobs, database="creates")


def _console_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chat-id", default="console-group", help="mã nhóm giả lập (mặc định console-group)")
    parser.add_argument("--user-id", default="1", help="mã người dùng giả lập")
    parser.add_argument("--name", default="Người dùng thử", help="tên hiển thị")
    parser.add_argument("--private", action="store_true", help="giả lập tin nhắn riêng với bot")


def _console_channel(app: BotApp, args: argparse.Namespace) -> ConsoleChannel:
    from tocns.app import print_console_outbox
    from tocns.channels.console import ConsoleChannel

    return ConsoleChannel(
        app.pipeline,
        chat_id=args.chat_id,
        user_id=args.user_id,
        name=args.name,
        private=args.private,
        files_dir=Path(app.settings.files_dir),
        deliver_outbox=lambda: print_console_outbox(app),
    )


def _console(args: argparse.Namespace) -> int:
    import asyncio

    from tocns.app import BotApp

    async def go() -> None:
        app = await BotApp.create()
        try:
            await _console_channel(app, args).run()
        finally:
            await app.close()

    asyncio.run(go())
    return 0


def _run(args: argparse.Namespace) -> int:
    import asyncio

    from tocns.app import BotApp
    from tocns.config import get_settings

    settings = get_settings()
    logging.getLogger().setLevel(settings.log_level)

    async def go() -> None:
        from tocns.app import configured_platforms, run_polling, start_sender
        from tocns.outbox.sender import stop_sender
        from tocns.scheduler import start_scheduler

        app = await BotApp.create(settings)
        platforms = configured_platforms(settings)
        files = await serve_files(app) if platforms else None
        scheduler = start_scheduler(app)
        sender = start_sender(app, files_served=files is not None)
        try:
            if platforms:
                await run_polling(app, platforms)
            else:
                print("Chưa cấu hình token Telegram hay Zalo: chạy bot trong console trên máy này.", file=sys.stderr)
                console = _console_channel(app, args)
                printer = asyncio.create_task(_print_outbox_forever(console))
                try:
                    await console.run()
                finally:
                    printer.cancel()
        finally:
            await stop_sender(sender)
            scheduler.shutdown(wait=False)
            if files is not None:
                await files.stop()
            await app.close()

    from tocns.channels.base import SetupError

    try:
        asyncio.run(go())
    except SetupError as exc:  # a platform refused the configuration: the cause, in one line
        from tocns.log_setup import redact

        print(redact(str(exc)), file=sys.stderr)
        return 2
    return 0


class FilesServer:
    """GET /files served beside polling, on HTTP_HOST:HTTP_PORT, until stopped."""

    def __init__(self, app: BotApp) -> None:
        import uvicorn

        from tocns.web.files import files_app

        settings = app.settings
        config = uvicorn.Config(
            files_app(app), host=settings.http_host, port=settings.http_port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen; OSError when the port cannot be opened (the operator sees it in one line)."""
        import asyncio
        import contextlib

        # Polling owns Ctrl+C: the files server must not take the process's signal handlers.
        self.server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started and not self.task.done():
            await asyncio.sleep(0.02)
        if self.task.done():
            config = self.server.config
            raise OSError(f"không mở được {config.host}:{config.port} để phục vụ tệp (HTTP_HOST, HTTP_PORT)")

    async def stop(self) -> None:
        """Stop listening."""
        self.server.should_exit = True
        if self.task is not None:
            await self.task


def files_served_by_run(settings: Settings) -> bool:
    """Whether `tocns run` serves /files: only when PUBLIC_BASE_URL was set (the default points at this machine,
    which no phone can open) and links can be signed (LINK_SIGNING_SECRET)."""
    from tocns.core.signed_links import can_sign

    return "public_base_url" in settings.model_fields_set and can_sign(settings)


async def serve_files(app: BotApp) -> FilesServer | None:
    """Start the /files server when `tocns run` should serve files; say in one line what files become."""
    settings = app.settings
    if not files_served_by_run(settings):
        # Not printed: a fault at start must stay the operator's one line. The Zalo transport logs a warning
        # each time it puts a summary line in place of a file (docs/operators.md).
        log.debug("no PUBLIC_BASE_URL and LINK_SIGNING_SECRET: /files not served; Zalo gets a line per file")
        return None
    server = FilesServer(app)
    await server.start()
    base = settings.public_base_url.rstrip("/")
    print(f"Phục vụ tệp tại {base}/files (nghe ở {settings.http_host}:{settings.http_port}).", file=sys.stderr)
    return server


async def _print_outbox_forever(console: ConsoleChannel, every_seconds: float = 20.0) -> None:
    """Show scheduled messages (reminders, digests) for console chats while the operator is idle."""
    import asyncio

    while True:
        await asyncio.sleep(every_seconds)
        try:
            await console.deliver_outbox()
        except Exception:
            log.exception("printing the console outbox failed")


def _serve_problem(settings: Settings, workers: int) -> str | None:
    """Why the server cannot start with these settings and workers (before touching any platform), or None."""
    if workers < 1:
        return "Số tiến trình (--workers / WEB_WORKERS) phải từ 1 trở lên."
    if workers > 1 and settings.is_sqlite:
        return (
            f"SQLite chỉ cho một tiến trình ghi: không chạy được {workers} tiến trình. Dùng --workers 1, "
            "hoặc chuyển sang PostgreSQL (DATABASE_URL=postgresql+asyncpg://...) cho nhiều tiến trình."
        )
    if settings.telegram_bot_token:
        from tocns.channels.telegram import webhook_secret_problem

        return webhook_secret_problem(settings.telegram_webhook_secret)
    return None


def _register_platforms(settings: Settings) -> dict[str, str] | None:
    """Migrations, setWebhook and the command menu, once here and not once per worker; None (the cause printed
    in one line, not a traceback) when a platform or the database refuses."""
    import asyncio

    from tocns.channels.base import SetupError
    from tocns.log_setup import redact
    from tocns.web.app import register_platforms

    try:
        return asyncio.run(register_platforms(settings))
    except SetupError as exc:  # a platform refused the configuration: the cause, in one line
        print(redact(str(exc)), file=sys.stderr)
        return None
    except Exception as exc:  # the operator gets the cause in one line, not a traceback
        from tocns.cli.errors import operator_error

        log.debug("starting the webhook server failed", exc_info=True)
        cause = operator_error(exc)[0].removeprefix("Lỗi: ").rstrip(".")
        print(
            f"Không khởi động được máy chủ webhook: {cause}. Kiểm tra DATABASE_URL, TELEGRAM_BOT_TOKEN, "
            "ZALO_BOT_TOKEN, các *_API_BASE_URL, PUBLIC_BASE_URL và kết nối mạng, rồi chạy lại.",
            file=sys.stderr,
        )
        return None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from tocns.config import get_settings

    settings = get_settings()
    logging.getLogger().setLevel(settings.log_level)
    workers = args.workers or settings.web_workers
    problem = _serve_problem(settings, workers)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    urls = _register_platforms(settings)
    if urls is None:
        return 2
    for platform, url in urls.items():
        print(f"Webhook {platform}: {url} (đã kiểm tra)", flush=True)
    from tocns.jobs_process import JobsProcess, separate_jobs

    jobs = None
    if separate_jobs(settings):
        # The jobs process publishes its loops here for the web workers' /healthz (removed at exit).
        state_dir = tempfile.mkdtemp(prefix="tocns-jobs-")
        jobs = JobsProcess(health_file=Path(state_dir) / "health.json")
    metrics_dir = None
    if (workers > 1 or jobs is not None) and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each process writes its counters here and /metrics adds them up, whichever worker answers the scrape
        # (the sender's, counted in the jobs process, too).
        metrics_dir = tempfile.mkdtemp(prefix="tocns-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        if jobs is not None:
            jobs.start()
        uvicorn.run(
            "tocns.web.app:served_app",
            factory=True,
            workers=workers,
            host=args.host or settings.http_host,
            port=args.port or settings.http_port,
            log_level=settings.log_level.lower(),
        )
    finally:
        # After the web workers: an update they took in until the end still gets its receipt sent.
        if jobs is not None:
            jobs.stop()
            shutil.rmtree(state_dir, ignore_errors=True)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _jobs(args: argparse.Namespace) -> int:
    from tocns.config import get_settings
    from tocns.jobs_process import serve_jobs

    settings = get_settings()
    logging.getLogger().setLevel(settings.log_level)
    serve_jobs(settings)
    return 0
