"""Connections, the pool, database creation and alembic migrations."""

from __future__ import annotations

from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from psycopg import AsyncConnection, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool

from middleware.config import PROJECT_ROOT

MIGRATIONS_DIR: Path = PROJECT_ROOT / "db"


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL does not answer or refuses us."""


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


async def open_pool(url: str, *, min_size: int, max_size: int, timeout: float = 10.0) -> AsyncConnectionPool:
    pool = AsyncConnectionPool(url, min_size=min_size, max_size=max_size, open=False,
                               kwargs={"autocommit": True}, timeout=timeout)
    await pool.open(wait=False)
    return pool


async def ping(conn: AsyncConnection) -> None:
    """The cheapest statement that proves the server answers on this connection."""
    await conn.execute("SELECT 1")
