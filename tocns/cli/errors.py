"""What an operator sees when a `tocns` command fails: one Vietnamese line and an exit code, never a traceback.

`tocns.cli.main` calls `operator_error` for every exception a subcommand lets out, so each subcommand (and each
one added later) gets the same treatment without handling anything itself. See docs/operators.md.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from urllib.parse import urlsplit

from tocns.log_setup import redact

# Exit codes: 1 a runtime fault (database, network, output), 2 a configuration the command cannot start with.
RUNTIME = 1
CONFIG = 2

DATABASE_FORMS = (
    "sqlite+aiosqlite:///đường/dẫn/tocns.db hoặc postgresql+asyncpg://người_dùng:mật_khẩu@máy:5432/tên_csdl"
)
_DB_PACKAGES = ("sqlalchemy", "asyncpg", "aiosqlite", "sqlite3", "alembic", "psycopg")
_API_PACKAGES = ("httpx", "httpcore", "telegram")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and every cause or context behind it, each once."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        todo += [e for e in getattr(current, "exceptions", ()) if isinstance(e, BaseException)]


def _raised_in(exc: BaseException, packages: tuple[str, ...]) -> bool:
    """Whether the exception was raised from inside one of these libraries (by its module or its traceback)."""
    module = type(exc).__module__.split(".")[0]
    if module in packages:
        return True
    for frame in traceback.extract_tb(exc.__traceback__):
        parts = frame.filename.replace("\\", "/").split("/")
        if any(p in parts for p in packages):
            return True
    return False


def _database_target(url: str) -> str:
    """Where the database is, without the password: `máy:cổng/tên` or the SQLite file."""
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except Exception:
        return "?"
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def _api_name(url: str, settings_urls: dict[str, str]) -> str:
    """Telegram or Zalo, from the host the request went to."""
    host = urlsplit(url).netloc
    for name, base in settings_urls.items():
        if host and urlsplit(base).netloc == host:
            return name
    return "Bot API"


def _settings_urls() -> tuple[str, dict[str, str]]:
    """DATABASE_URL and the Bot API base URLs as configured (environment or .env), without failing."""
    try:
        from tocns.config import get_settings

        settings = get_settings()
    except Exception:
        return os.environ.get("DATABASE_URL", ""), {}
    apis = {"Telegram": settings.telegram_api_base_url, "Zalo": settings.zalo_api_base_url}
    return settings.database_url, apis


def _short(exc: BaseException) -> str:
    """The exception's own words, shortened to fit the line and redacted of secrets."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return redact(text)[:160]


def _database_problem(exc: BaseException, url: str) -> str | None:
    """A sentence for a DATABASE_URL that cannot be read, loaded or reached; None when this is not one."""
    from sqlalchemy import exc as sa_exc

    errors = list(_chain(exc))
    target = _database_target(url)
    found = _url_problem(errors, url) or _server_problem(errors, target)
    if found is not None:
        return found
    for error in errors:
        if isinstance(error, OSError | TimeoutError) and _raised_in(error, _DB_PACKAGES):
            return f"không kết nối được cơ sở dữ liệu {target} ({_short(error)}); kiểm tra máy chủ và DATABASE_URL."
    if any(isinstance(e, sa_exc.SQLAlchemyError) for e in errors):
        return f"cơ sở dữ liệu {target} báo lỗi ({_short(exc)}); kiểm tra DATABASE_URL và máy chủ."
    return None


def _url_problem(errors: list[BaseException], url: str) -> str | None:
    """A DATABASE_URL that cannot be read, or names a driver that cannot be loaded."""
    from sqlalchemy import exc as sa_exc

    for error in errors:
        if isinstance(error, sa_exc.NoSuchModuleError) or (
            isinstance(error, sa_exc.InvalidRequestError) and "async" in str(error)
        ):
            scheme = url.split("://", 1)[0] if "://" in url else url
            return f"DATABASE_URL dùng trình điều khiển '{redact(scheme)}' không dùng được; viết dạng {DATABASE_FORMS}."
        if isinstance(error, sa_exc.ArgumentError) and "URL" in str(error):
            return f"DATABASE_URL không đọc được; viết dạng {DATABASE_FORMS}."
        if isinstance(error, ModuleNotFoundError) and _raised_in(error, _DB_PACKAGES):
            return f"DATABASE_URL cần gói {error.name!r} chưa cài; dùng {DATABASE_FORMS}."
    return None


def _server_problem(errors: list[BaseException], target: str) -> str | None:
    """A database the server does not have, credentials it refuses, or a SQLite file that cannot be opened."""
    for error in errors:
        name = type(error).__name__
        if name == "InvalidCatalogNameError" or ("does not exist" in str(error) and "database" in str(error)):
            return (
                f"cơ sở dữ liệu {target} chưa được tạo trên máy chủ PostgreSQL; tạo nó (createdb) hay sửa DATABASE_URL."
            )
        if name in ("InvalidPasswordError", "InvalidAuthorizationSpecificationError"):
            return f"máy chủ PostgreSQL {target} từ chối tên người dùng hoặc mật khẩu trong DATABASE_URL."
        if "unable to open database file" in str(error):
            return f"không mở được tệp SQLite {target}: thư mục không có hoặc không được ghi; sửa DATABASE_URL."
    return None


def _api_problem(exc: BaseException, apis: dict[str, str]) -> str | None:
    """A sentence for a Telegram or Zalo Bot API that cannot be reached; None when this is not one."""
    for error in _chain(exc):
        module = type(error).__module__.split(".")[0]
        if module == "telegram":
            name = type(error).__name__
            if name == "InvalidToken" or "Unauthorized" in name:
                return "Telegram không nhận TELEGRAM_BOT_TOKEN (sai hoặc đã bị thu hồi); lấy lại mã từ @BotFather."
            base = apis.get("Telegram", "")
            return (
                f"không kết nối được Telegram Bot API {base} ({_short(error)}); kiểm tra mạng và TELEGRAM_API_BASE_URL."
            )
        if module in ("httpx", "httpcore") and isinstance(error, Exception):
            request = getattr(error, "_request", None)
            url = str(request.url) if request is not None else ""
            name = _api_name(url, apis)
            where = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" if url else ""
            setting = {"Telegram": "TELEGRAM_API_BASE_URL", "Zalo": "ZALO_API_BASE_URL"}.get(name, "*_API_BASE_URL")
            return f"không kết nối được {name} {where} ({type(error).__name__}); kiểm tra mạng và {setting}."
    return None


def broken_pipe(exc: BaseException) -> bool:
    """Whether the failure is the output's reader going away (`tocns ... | head -1`)."""
    return any(isinstance(e, BrokenPipeError) for e in _chain(exc))


def operator_error(exc: BaseException) -> tuple[str, int]:
    """The one line (without a newline) and the exit code for an exception a subcommand let out."""
    errors = list(_chain(exc))
    if broken_pipe(exc):
        return "Lỗi: đầu ra đã bị đóng (ví dụ bởi | head): dừng, phần còn lại không được in.", RUNTIME
    setup = next((e for e in errors if type(e).__name__ == "SetupError"), None)
    if setup is not None:  # a platform refused the configuration; its message already says what to fix
        return redact(" ".join(str(setup).split())), CONFIG
    url, apis = _settings_urls()
    api = _api_problem(exc, apis)
    if api is not None:
        return f"Lỗi: {api}", RUNTIME
    database = _database_problem(exc, url)
    if database is not None:
        return f"Lỗi: {database}", RUNTIME
    if any(isinstance(e, MemoryError) for e in errors):
        return "Lỗi: hết bộ nhớ.", RUNTIME
    return (
        f"Lỗi ngoài dự kiến ({type(exc).__name__}: {_short(exc)}); chạy lại với LOG_LEVEL=DEBUG để xem chi tiết.",
        RUNTIME,
    )
