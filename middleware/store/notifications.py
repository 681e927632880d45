"""PostgreSQL NOTIFY / LISTEN: how live events cross processes (the CLI, other middleware nodes)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import psycopg
from psycopg import AsyncConnection, sql

from middleware.store.database import DatabaseUnavailable


async def notify_many(conn: AsyncConnection, channel: str, payloads: list[str]) -> None:
    """NOTIFY ``channel`` once per payload, in order, in one round trip and one transaction (where
    PostgreSQL delivers two identical payloads of one transaction once)."""
    try:
        await conn.execute("SELECT pg_notify(%s, p) FROM unnest(%s::text[]) AS p", (channel, payloads))
    except psycopg.Error as exc:
        raise DatabaseUnavailable(str(exc).strip()[:200], cause=type(exc).__name__) from exc


async def listen(url: str, channel: str, on_listening: Callable[[], None] | None = None) -> AsyncIterator[str]:
    """The payloads NOTIFYed on ``channel``, on a connection of its own, until the connection fails
    (DatabaseUnavailable) or the caller stops; ``on_listening`` is called once the LISTEN is in place
    (from then on no NOTIFY is missed)."""
    try:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=5)
        async with conn:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            if on_listening is not None:
                on_listening()
            async for note in conn.notifies():
                yield note.payload
    except psycopg.Error as exc:
        raise DatabaseUnavailable(str(exc).strip()[:200], cause=type(exc).__name__) from exc
