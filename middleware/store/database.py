"""Connections, the pool, database creation and alembic migrations.

The one place psycopg's failures are caught: the pool (``Pool.connection``) and the set-up functions
turn PostgreSQL not answering, refusing us or a pool with no connection to give into
``DatabaseUnavailable``; every other module catches that alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from psycopg import AsyncConnection, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from middleware.config import PROJECT_ROOT
from middleware.errors import Unavailable

MIGRATIONS_DIR: Path = PROJECT_ROOT / "db"


class DatabaseUnavailable(Unavailable):
    """PostgreSQL does not answer or refuses us (``busy``: the pool had no connection free in time,
    which says nothing about the server itself)."""

    def __init__(self, detail: str, *, cause: str = "", busy: bool = False) -> None:
        super().__init__(detail)
        self.cause = cause or type(self).__name__  # the psycopg class name: safe to show anyone
        self.busy = busy


@contextlib.contextmanager
def failures_mapped() -> Iterator[None]:
    """Whatever means "PostgreSQL cannot be used now" leaves as ``DatabaseUnavailable``."""
    try:
        yield
    except PoolTimeout as exc:
        raise DatabaseUnavailable(str(exc)[:200], cause="PoolTimeout", busy=True) from exc
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(str(exc).strip()[:200], cause=type(exc).__name__) from exc


class Pool(AsyncConnectionPool):
    """psycopg's pool, whose connections raise ``DatabaseUnavailable`` for whatever means "PostgreSQL
    cannot be used now": the server unreachable or restarting (``OperationalError``, raised by the
    connection or by a statement on it), or no pooled connection within the timeout (``PoolTimeout``)."""

    @contextlib.asynccontextmanager
    async def connection(self, timeout: float | None = None) -> AsyncIterator[AsyncConnection]:
        with failures_mapped():
            async with super().connection(timeout) as conn:
                yield conn


def database_name(url: str) -> str:
    return str(conninfo_to_dict(url).get("dbname", ""))


def with_database(url: str, name: str) -> str:
    """The same server and credentials, another database."""
    params = conninfo_to_dict(url)
    params["dbname"] = name
    return make_conninfo("", **params)


def _sqlalchemy_url(url: str) -> str:
    params = conninfo_to_dict(url)
    user = params.get("user", "postgres")
    password = f":{params['password']}" if params.get("password") else ""
    host = params.get("host", "127.0.0.1")
    port = params.get("port", "5432")
    return f"postgresql+psycopg://{user}{password}@{host}:{port}/{params.get('dbname', '')}"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Config values go through ConfigParser interpolation: escape %.
    cfg.set_main_option("sqlalchemy.url", _sqlalchemy_url(url).replace("%", "%%"))
    return cfg


def ensure_database(url: str) -> bool:
    """Create the database named in url if it does not exist; return whether it created one."""
    name = database_name(url)
    try:
        with psycopg.connect(with_database(url, "postgres"), autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if exists:
                return False
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"PostgreSQL at {url}: {str(exc).strip()}") from exc


def drop_database(url: str) -> None:
    name = database_name(url)
    with psycopg.connect(with_database(url, "postgres"), autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"PostgreSQL at {url}: {str(exc).strip()}") from exc
    return str(row[0]) if row else None


async def open_pool(url: str, *, min_size: int, max_size: int, timeout: float = 10.0) -> Pool:
    pool = Pool(url, min_size=min_size, max_size=max_size, open=False,
                               kwargs={"autocommit": True}, timeout=timeout)
    await pool.open(wait=False)
    return pool


async def probe(url: str) -> None:
    """Connect once: fails in seconds with the server's own words (the last line of its message)."""
    try:
        conn = await psycopg.AsyncConnection.connect(url, connect_timeout=5)
        await conn.close()
    except psycopg.OperationalError as exc:
        text = str(exc).strip()
        raise DatabaseUnavailable(text.splitlines()[-1] if text else type(exc).__name__,
                                  cause=type(exc).__name__) from exc


async def ping(conn: AsyncConnection) -> None:
    """The cheapest statement that proves the server answers on this connection."""
    await conn.execute("SELECT 1")
