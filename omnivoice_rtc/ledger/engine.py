"""The ledger's database: URL forms, the async engine, and schema migrations.

``OMNIVOICE_DATABASE_URL`` is written the way operators know it (``sqlite:///calls.db``,
``postgresql://user:pw@host/db``); :func:`async_url` turns it into the async driver's
form (``sqlite+aiosqlite``, ``postgresql+asyncpg``). SQLite runs in WAL mode with a busy
timeout, foreign keys on, and every transaction ``BEGIN IMMEDIATE`` (several processes,
the web server and every agent job, write the same file: a deferred transaction that
reads, then writes, could fail instead of waiting). :func:`migrate` brings the schema to
the newest Alembic revision shipped in ``omnivoice_rtc/ledger/migrations``; every process
that opens the ledger calls it, so it holds a lock (SQLite's write lock, PostgreSQL's
advisory lock) and is a no-op when the schema is current.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from omnivoice_rtc._errors import ConfigError

__all__ = [
    "MIGRATIONS_DIR",
    "SQLITE_BUSY_TIMEOUT_MS",
    "async_url",
    "create_engine",
    "downgrade",
    "is_sqlite",
    "migrate",
    "schema_revision",
]

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS: Final = 30_000
"""How long a SQLite writer waits for another process's write lock (ms)."""
_MIGRATION_LOCK_ID: Final = 0x6F6D6E69  # "omni": PostgreSQL advisory lock key


def async_url(url: str) -> str:
    """``url`` with its async driver (aiosqlite, asyncpg); ConfigError for other schemes."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ConfigError(f"OMNIVOICE_DATABASE_URL: unsupported database {backend!r}")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_file(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def create_engine(url: str, *, pool_size: int = 5) -> AsyncEngine:
    """An async engine for ``url`` (plain or async form); creates a SQLite file's folder."""
    target = async_url(url)
    if not is_sqlite(target):
        return create_async_engine(target, pool_size=pool_size)
    path = _sqlite_file(target)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(target, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    _sqlite_pragmas(engine)
    return engine


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _upgrade(connection: Connection, revision: str, down: bool = False) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    quiet = logging.getLogger("alembic")
    level = quiet.level
    quiet.setLevel(max(level, logging.WARNING))  # its INFO lines say nothing to an operator
    try:
        (command.downgrade if down else command.upgrade)(config, revision)
    finally:
        quiet.setLevel(level)


async def migrate(engine: AsyncEngine, *, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` (default: the newest), holding the migration
    lock; safe to call from several processes at once."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_ID}
            )
        await conn.run_sync(_upgrade, revision)


async def downgrade(engine: AsyncEngine, *, revision: str) -> None:
    """Take the schema back to ``revision`` (``"base"``: no tables); for maintainers."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision, True)


async def schema_revision(engine: AsyncEngine) -> str | None:
    """The schema's current Alembic revision (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)
