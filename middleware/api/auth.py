"""Who is asking: API tokens (made, hashed, read from a request) and what each role may do.

A token is ``cc_`` + 43 URL-safe characters (256 random bits). Only its SHA-256 digest is stored: a
token that random needs no slow hash, and a stolen table of digests lets nobody in. Roles are ranked
agent < supervisor < admin; every token but a platform admin's belongs to one tenant and sees only it.
"""

from __future__ import annotations

import base64
import hashlib
import re

from middleware.principal import RANK, ROLES, Principal, Role

__all__ = ["ROLES", "Forbidden", "Principal", "Role", "Unauthorized", "check_grant", "new_token", "require",
           "token_digest", "token_from"]
TOKEN_PREFIX = "cc_"
_TOKEN = re.compile(r"cc_[A-Za-z0-9_-]{43}\Z")


class Unauthorized(Exception):
    """No usable credentials: 401."""


class Forbidden(Exception):
    """Known caller, not allowed: 403."""


def new_token(random_bytes: bytes) -> str:
    """A token from 32 random bytes (the caller passes ``secrets.token_bytes(32)``)."""
    if len(random_bytes) != 32:
        raise ValueError("a token needs exactly 32 random bytes")
    return TOKEN_PREFIX + base64.urlsafe_b64encode(random_bytes).decode().rstrip("=")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_from(authorization: str | None, query_token: str | None = None) -> str:
    """The token of an ``Authorization: Bearer ...`` header (or, for browsers' WebSockets, a query
    parameter); Unauthorized when there is none or it cannot be one of ours."""
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("Authorization must be 'Bearer <token>'")
        token = value.strip()
    elif query_token:
        token = query_token
    else:
        raise Unauthorized("missing bearer token")
    if not _TOKEN.match(token):
        raise Unauthorized("malformed token")
    return token


def require(principal: Principal, role: Role) -> None:
    """Forbidden unless ``principal`` has ``role`` or a higher one."""
    if RANK[principal.role] < RANK[role]:
        raise Forbidden(f"this needs the {role} role; the token has {principal.role}")


def check_grant(creator_role: Role, tenant: str | None, agent: str | None) -> None:
    """The shape a new token must have (ValueError says what is wrong)."""
    if creator_role not in RANK:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if creator_role != "admin" and tenant is None:
        raise ValueError(f"a {creator_role} token belongs to a tenant: give --tenant")
    if (creator_role == "agent") != (agent is not None):
        raise ValueError("an agent token names its agent (--agent), and only an agent token does")
