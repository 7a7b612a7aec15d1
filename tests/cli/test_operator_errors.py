"""Issue 13: every `tocns` subcommand fails in one Vietnamese line with a non-zero exit, never a traceback.

The real console script runs as a subprocess for a table of (subcommand x fault): a bad DATABASE_URL (unparseable,
unknown driver, unreachable host, missing database), an unreachable Bot API (Telegram, Zalo), a closed output pipe.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from tests.cli.test_cli import TOCNS

VIETNAMESE = re.compile(r"[àáảãạăắằẳẵặâấầẩẫậđèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵ]")
INDICATORS = str(Path(__file__).parents[2] / "tocns" / "features" / "activity" / "data" / "indicators.json")


def _closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CLOSED = _closed_port()

# Every subcommand that opens the database, with arguments it accepts.
DATABASE_COMMANDS: dict[str, list[str]] = {
    "db upgrade": ["db", "upgrade"],
    "org import": ["org", "import", "--province", "01"],
    "org add-team": ["org", "add-team", "00070", "Thôn 3"],
    "org import-teams": ["org", "import-teams", "{sheet}"],
    "org list": ["org", "list"],
    "joincode": ["joincode", "00070"],
    "console": ["console"],
    "run": ["run"],
    "serve": ["serve", "--port", str(CLOSED)],
    "demo": ["demo"],
    "tick": ["tick"],
    "indicators import": ["indicators", "import", INDICATORS],
    "export activities": ["export", "activities", "--format", "csv"],
    "report": ["report", "00070"],
    "apitoken create": ["apitoken", "create", "01"],
    "apitoken list": ["apitoken", "list"],
    "apitoken revoke": ["apitoken", "revoke", "1"],
    "outbox send": ["outbox", "send", "--until-empty"],
}
# Commands that set a bot up may create a missing SQLite file; the others must refuse it.
CREATORS = {"db upgrade", "org import", "console", "run", "serve", "demo"}

DATABASE_FAULTS = {
    "unparseable": "not a database url",
    "unknown driver": "foo+bar://user@localhost/tocns",
    "unreachable host": f"postgresql+asyncpg://postgres@127.0.0.1:{CLOSED}/tocns",
    "unknown host": "postgresql+asyncpg://postgres@db.invalid:5432/tocns",
}


def _env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of an operator's shell: no platform token unless given, this database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_"))}
    return {**env, "DATABASE_URL": database_url, "LOG_LEVEL": "INFO", **extra}


def _run(args: list[str], env: dict[str, str], cwd: Path, stdout: int | None = None) -> tuple[int, str]:
    done = subprocess.run(
        [*TOCNS, *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL if stdout is None else stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stderr


def _assert_one_line(code: int, stderr: str) -> None:
    lines = stderr.splitlines()
    assert code != 0, stderr
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and VIETNAMESE.search(lines[0]), stderr


def _zalo_env(url: str) -> dict[str, str]:
    return {
        "ZALO_BOT_TOKEN": "12345:abcdefghijklmnopqrstuvwxyz",
        "ZALO_WEBHOOK_SECRET": "secret-12345",
        "ZALO_API_BASE_URL": url,
    }


def _database_env(name: str) -> dict[str, str]:
    # `outbox send` needs a platform to send through; its Bot API is reachable only in the API table below.
    return _zalo_env(f"http://127.0.0.1:{CLOSED}") if name == "outbox send" else {}


@pytest.fixture(scope="module")
def sheet(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The import-teams template, a sheet the command accepts (written without a database)."""
    path = tmp_path_factory.mktemp("sheet") / "to.csv"
    assert _run(["org", "import-teams", "--template", str(path)], _env("not a database url"), path.parent)[0] == 0
    return str(path)


def _args(name: str, sheet: str) -> list[str]:
    return [sheet if a == "{sheet}" else a for a in DATABASE_COMMANDS[name]]


# Every subcommand meets the likeliest fault; every fault meets the commands that reach the database differently
# (migrations, a session, the app, the web server's start, the sender). Each run is a process start, hence the cut.
SAMPLED = ("db upgrade", "org list", "tick", "serve", "outbox send")
TABLE = [(name, "unreachable host") for name in DATABASE_COMMANDS] + [
    (name, fault) for fault in DATABASE_FAULTS if fault != "unreachable host" for name in SAMPLED
]


@pytest.mark.parametrize(("name", "fault"), TABLE)
def test_bad_database_url_is_one_line(name: str, fault: str, sheet: str, tmp_path: Path) -> None:
    env = _env(DATABASE_FAULTS[fault], **_database_env(name))
    code, stderr = _run(_args(name, sheet), env, tmp_path)
    _assert_one_line(code, stderr)
    assert "DATABASE_URL" in stderr or "cơ sở dữ liệu" in stderr


@pytest.mark.parametrize("name", sorted(set(DATABASE_COMMANDS) - CREATORS))
def test_missing_sqlite_file_is_refused_not_created(name: str, sheet: str, tmp_path: Path) -> None:
    """Run from the wrong directory, a command on existing data says which file is missing and creates nothing."""
    env = _env("sqlite+aiosqlite:///./data/tocns.db", **_database_env(name))
    code, stderr = _run(_args(name, sheet), env, tmp_path)
    _assert_one_line(code, stderr)
    assert f"chưa có cơ sở dữ liệu {tmp_path / 'data' / 'tocns.db'}" in stderr
    assert not (tmp_path / "data").exists()


def test_missing_postgres_database_is_one_line(tmp_path: Path) -> None:
    server = os.environ.get("TEST_DATABASE_URL", "")
    if not server.startswith("postgresql"):
        pytest.skip("needs a PostgreSQL server (TEST_DATABASE_URL)")
    url = server.rsplit("/", 1)[0] + "/tocns_no_such_database"
    for args in (["org", "list"], ["tick"], ["db", "upgrade"]):
        code, stderr = _run(args, _env(url), tmp_path)
        _assert_one_line(code, stderr)
        assert "tocns_no_such_database chưa được tạo" in stderr


def test_relative_sqlite_path_is_resolved_and_printed(tmp_path: Path) -> None:
    env = _env("sqlite+aiosqlite:///./data/tocns.db")
    assert _run(["db", "upgrade"], env, tmp_path)[0] == 0
    other = tmp_path / "elsewhere"
    other.mkdir()
    code, stderr = _run(["org", "list"], env, tmp_path)
    assert code == 0 and stderr.splitlines() == [f"Cơ sở dữ liệu: {tmp_path / 'data' / 'tocns.db'}"]
    refused, _ = _run(["org", "list"], env, other)
    assert refused != 0 and not (other / "data").exists()


API_COMMANDS = {"run": ["run"], "serve": ["serve", "--port", str(CLOSED)], "outbox send": ["outbox", "send"]}


def _telegram_env(url: str) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": "12345:abcdefghijklmnopqrstuvwxyz",
        "TELEGRAM_WEBHOOK_SECRET": "secret-12345",
        "TELEGRAM_API_BASE_URL": url,
    }


@pytest.mark.parametrize("platform", ["Telegram", "Zalo"])
@pytest.mark.parametrize("name", list(API_COMMANDS))
def test_unreachable_bot_api_is_one_line(name: str, platform: str, tmp_path: Path) -> None:
    """Instead of a traceback (run), or of retrying forever in silence (outbox send)."""
    api = f"http://127.0.0.1:{CLOSED}"
    extra = _telegram_env(api) if platform == "Telegram" else _zalo_env(api)
    env = _env(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", **extra)
    assert _run(["db", "upgrade"], env, tmp_path)[0] == 0
    code, stderr = _run(API_COMMANDS[name], env, tmp_path)
    _assert_one_line(code, stderr)
    assert f"không kết nối được {platform}" in stderr and "12345:abc" not in stderr


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A demo province in a SQLite file, so each command has something to print."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('province') / 'demo.db'}"
    assert _run(["demo"], _env(url), Path.cwd())[0] == 0
    return url


PRINTING = {
    "org list": ["org", "list"],
    "report": ["report", "DEMO-X1", "--format", "csv"],
    "export activities": ["export", "activities", "--format", "csv"],
    "apitoken list": ["apitoken", "list"],
    "joincode": ["joincode", "DEMO-X1"],
    "tick --dry-run": ["tick", "--dry-run"],
}


@pytest.mark.parametrize("name", list(PRINTING))
def test_closed_output_pipe_is_one_line(name: str, province: str, tmp_path: Path) -> None:
    """`tocns ... | head -1` where head has already gone: one line, no BrokenPipeError at exit."""
    read, write = os.pipe()
    os.close(read)
    try:
        code, stderr = _run(PRINTING[name], _env(province), tmp_path, stdout=write)
    finally:
        os.close(write)
    _assert_one_line(code, stderr)
    assert "đầu ra đã bị đóng" in stderr
