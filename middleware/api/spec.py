"""The API described once: each operation's path, role, parameters, body and response schema.

The same ``Operation`` objects register the aiohttp routes, validate every request (path, query,
body) and produce the OpenAPI 3.1 document, so the document cannot drift from what is served.
Validation is pure: raw strings / decoded JSON in, typed values out, ``BadRequest`` with a message a
person can act on otherwise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from middleware.api.auth import Role

Kind = Literal["string", "integer", "number", "boolean", "date-time"]
Json = dict[str, Any]
MAX_INT = 2**31 - 1


class BadRequest(ValueError):
    """A request the API refuses with 400 and this message."""


class NotFound(LookupError):
    """The named object does not exist for this caller (another tenant's is reported the same way)."""


class Conflict(Exception):
    """The object exists but is in a state that does not allow this (409)."""


class Unavailable(Exception):
    """A part this needs (Asterisk over AMI) is not reachable from this node right now (503)."""


@dataclass(frozen=True)
class Param:
    name: str
    kind: Kind = "string"
    required: bool = False
    description: str = ""
    pattern: str | None = None
    max_length: int = 200
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[str, ...] | None = None
    default: Any = None

    def schema(self) -> Json:
        if self.kind == "date-time":
            return {"type": "string", "format": "date-time"}
        out: Json = {"type": self.kind}
        if self.kind == "string":
            out["maxLength"] = self.max_length
            if self.pattern:
                out["pattern"] = self.pattern
            if self.enum:
                out["enum"] = list(self.enum)
        if self.kind in ("integer", "number"):
            out["minimum"] = self.minimum if self.minimum is not None else (0 if self.kind == "integer" else -1e12)
            out["maximum"] = self.maximum if self.maximum is not None else (MAX_INT if self.kind == "integer"
                                                                              else 1e12)
        if self.default is not None:
            out["default"] = self.default
        return out

    def parse(self, raw: str) -> Any:
        """A query or path value (always text) as this parameter's type."""
        if self.kind == "integer":
            if not re.fullmatch(r"-?[0-9]{1,12}", raw):
                raise BadRequest(f"{self.name}: {raw[:40]!r} is not an integer")
            return self.check(int(raw))
        if self.kind == "number":
            try:
                value = float(raw)
            except ValueError:
                raise BadRequest(f"{self.name}: {raw[:40]!r} is not a number") from None
            return self.check(value)
        if self.kind == "boolean":
            if raw not in ("true", "false"):
                raise BadRequest(f"{self.name}: use true or false, not {raw[:40]!r}")
            return raw == "true"
        return self.check(raw)

    def check(self, value: Any) -> Any:
        """A decoded JSON value checked against this parameter."""
        name = self.name
        if self.kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadRequest(f"{name}: expected an integer")
            self._range(value)
            return value
        if self.kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise BadRequest(f"{name}: expected a number")
            self._range(value)
            return float(value)
        if self.kind == "boolean":
            if not isinstance(value, bool):
                raise BadRequest(f"{name}: expected true or false")
            return value
        if not isinstance(value, str):
            raise BadRequest(f"{name}: expected a string")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise BadRequest(f"{name}: control characters (NUL, line breaks, ...) are not accepted")
        if len(value) > self.max_length:
            raise BadRequest(f"{name}: longer than {self.max_length} characters")
        if self.kind == "date-time":
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise BadRequest(f"{name}: {value[:40]!r} is not an ISO 8601 date-time") from None
            if moment.tzinfo is None:
                raise BadRequest(f"{name}: {value[:40]!r} needs a UTC offset (e.g. 2026-11-23T00:00:00Z)")
            return moment
        if self.enum and value not in self.enum:
            raise BadRequest(f"{name}: must be one of {', '.join(self.enum)}")
        if self.pattern and not re.search(self.pattern, value):
            raise BadRequest(f"{name}: {value[:40]!r} does not match {self.pattern}")
        return value

    def _range(self, value: float) -> None:
        low = self.minimum if self.minimum is not None else (0 if self.kind == "integer" else -1e12)
        high = self.maximum if self.maximum is not None else (MAX_INT if self.kind == "integer" else 1e12)
        if not low <= value <= high:
            raise BadRequest(f"{self.name}: must be between {low:g} and {high:g}")


@dataclass(frozen=True)
class Request:
    """What a handler gets: the caller, and the path, query and body values already checked."""
    principal: Any  # auth.Principal (Any keeps this module free of the HTTP layer)
    path: Mapping[str, Any]
    query: Mapping[str, Any]
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[Any, Request], Awaitable[Any]]


@dataclass(frozen=True)
class Operation:
    method: Literal["GET", "POST"]
    path: str
    handler: Handler
    summary: str
    role: Role
    tag: str
    response: Json
    path_params: tuple[Param, ...] = ()
    query: tuple[Param, ...] = ()
    body: tuple[Param, ...] | None = None
    media: str = "application/json"
    success: int = 200
    errors: tuple[int, ...] = ()  # documented beyond 400/401/403/404 (and 413/415 with a body)

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


def _fill(params: tuple[Param, ...], given: Mapping[str, Any], convert: Callable[[Param, Any], Any],
          unknown: str, missing: str) -> dict[str, Any]:
    """Only known names, the required ones present, each value converted; defaults for the rest."""
    extra = sorted(set(given) - {p.name for p in params})
    if extra:
        raise BadRequest(f"{unknown}: {', '.join(extra)[:200]}")
    out: dict[str, Any] = {}
    for p in params:
        if p.name in given:
            out[p.name] = convert(p, given[p.name])
        elif p.required:
            raise BadRequest(f"{missing} {p.name}")
        else:
            out[p.name] = p.default
    return out


def parse_params(params: tuple[Param, ...], raw: Mapping[str, str], where: str) -> dict[str, Any]:
    """Query or path parameters (always text), parsed to their types."""
    return _fill(params, raw, Param.parse, f"unknown {where} parameter(s)", f"missing {where} parameter")


def parse_body(params: tuple[Param, ...], body: Any) -> dict[str, Any]:
    """A JSON body: an object whose fields are checked against their parameters."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return _fill(params, body, Param.check, "unknown field(s)", "missing field")


# JSON Schema shorthands for responses ------------------------------------------------------------

STR: Json = {"type": "string"}
INT: Json = {"type": "integer"}
NUM: Json = {"type": "number"}
BOOL: Json = {"type": "boolean"}
TIME: Json = {"type": "string", "format": "date-time"}


def nullable(schema: Json) -> Json:
    return {**schema, "type": [schema["type"], "null"]}


def obj(**props: Json) -> Json:
    """An object with exactly these properties, all present (null where the schema allows)."""
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def array(items: Json) -> Json:
    return {"type": "array", "items": items}


ERROR = obj(error=STR)
_ERRORS = {400: "invalid request", 401: "missing or unknown token", 403: "role or tenant not allowed",
           404: "no such object", 409: "not in a state that allows this", 413: "body too large",
           415: "body is not JSON", 429: "too many requests for this token (see Retry-After)",
           503: "Asterisk or the database cannot be reached from this node"}


def openapi(operations: list[Operation], *, title: str, version: str, extra_paths: Json) -> Json:
    """The OpenAPI 3.1 document of ``operations`` (plus unauthenticated ``extra_paths``)."""
    paths: dict[str, Json] = {}
    for op in operations:
        errors = [400, 401, 403, 404, 429, *op.errors] + ([413, 415] if op.body is not None else [])
        responses: Json = {str(op.success): {"description": "ok", "content": {op.media: {"schema": op.response}}}}
        for code in errors:
            responses[str(code)] = {"description": _ERRORS[code],
                                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        entry: Json = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag],
                       "description": f"Needs the {op.role} role (or higher).", "responses": responses,
                       "parameters": [{"name": p.name, "in": "path", "required": True, "schema": p.schema(),
                                       "description": p.description} for p in op.path_params]
                       + [{"name": p.name, "in": "query", "required": p.required, "schema": p.schema(),
                           "description": p.description} for p in op.query]}
        if op.body is not None:
            schema: Json = {"type": "object", "additionalProperties": False,
                            "properties": {p.name: p.schema() for p in op.body},
                            "required": [p.name for p in op.body if p.required]}
            entry["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    for path, methods in extra_paths.items():
        paths.setdefault(path, {}).update(methods)
    return {"openapi": "3.1.0", "info": {"title": title, "version": version},
            "paths": paths, "security": [{"bearer": []}],
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                           "schemas": {"Error": ERROR}}}
