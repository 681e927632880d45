"""Carrier trunks (the `trunks` table) and who uses them: tenants' allowed trunks, campaigns."""

from __future__ import annotations

from psycopg import AsyncConnection

from middleware.errors import Invalid
from middleware.trunks.spec import Trunk

_COLUMNS = ("name, host, port, match, username, password, register, contact_user, codecs, dtmf_mode, "
            "caller_id, max_channels, qualify_s")


class TrunkInUse(Invalid):
    """A trunk still named by a tenant or a campaign cannot be removed."""


class NameTaken(Invalid):
    """A trunk cannot take a phone's endpoint name: both are PJSIP endpoints."""


def _trunk(row: tuple) -> Trunk:  # type: ignore[type-arg]
    (name, host, port, match, username, password, register, contact_user, codecs, dtmf_mode, caller_id,
     max_channels, qualify_s) = row
    return Trunk(name, host, port, tuple(match), username, password, register, contact_user, tuple(codecs),
                 dtmf_mode, caller_id, max_channels, qualify_s)


async def list_trunks(conn: AsyncConnection) -> list[Trunk]:
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM trunks ORDER BY name")
    return [_trunk(row) for row in await cur.fetchall()]


async def get_trunk(conn: AsyncConnection, name: str) -> Trunk | None:
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM trunks WHERE name = %s", (name,))
    row = await cur.fetchone()
    return None if row is None else _trunk(row)


async def save_trunk(conn: AsyncConnection, t: Trunk) -> None:
    """Insert or replace a trunk (checked by trunks.spec.check first)."""
    async with conn.transaction():
        cur = await conn.execute("SELECT 1 FROM phones WHERE endpoint = %s", (t.name,))
        if await cur.fetchone():
            raise NameTaken(f"{t.name!r} is a phone's endpoint; a trunk needs a name of its own")
        await conn.execute(
            f"""INSERT INTO trunks ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host, port = EXCLUDED.port,
                    match = EXCLUDED.match, username = EXCLUDED.username, password = EXCLUDED.password,
                    register = EXCLUDED.register, contact_user = EXCLUDED.contact_user,
                    codecs = EXCLUDED.codecs, dtmf_mode = EXCLUDED.dtmf_mode, caller_id = EXCLUDED.caller_id,
                    max_channels = EXCLUDED.max_channels, qualify_s = EXCLUDED.qualify_s, updated_at = now()""",
            (t.name, t.host, t.port, list(t.match), t.username, t.password, t.register, t.contact_user,
             list(t.codecs), t.dtmf_mode, t.caller_id, t.max_channels, t.qualify_s))


async def users(conn: AsyncConnection, name: str) -> list[str]:
    """Who sends calls through the trunk: 'tenant acme', 'campaign renewals', 'route acme/us' (empty: nobody)."""
    cur = await conn.execute(
        """SELECT 'tenant ' || t.code FROM tenant_trunks tt JOIN tenants t ON t.id = tt.tenant_id WHERE tt.trunk = %s
           UNION ALL SELECT 'campaign ' || c.code FROM campaigns c WHERE c.trunk = %s
           UNION ALL SELECT 'route ' || t.code || '/' || r.name FROM outbound_routes r
                     JOIN tenants t ON t.id = r.tenant_id WHERE %s = ANY (r.trunks)
           ORDER BY 1""", (name, name, name))
    return [r[0] for r in await cur.fetchall()]


async def remove_trunk(conn: AsyncConnection, name: str) -> bool:
    """Remove an unused trunk; False when there is none of that name, TrunkInUse while it is named."""
    async with conn.transaction():
        if named := await users(conn, name):
            raise TrunkInUse(f"trunk {name} is used by {', '.join(named)}")
        cur = await conn.execute("DELETE FROM trunks WHERE name = %s", (name,))
        return cur.rowcount > 0


async def is_trunk(conn: AsyncConnection, name: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM trunks WHERE name = %s", (name,))
    return await cur.fetchone() is not None
