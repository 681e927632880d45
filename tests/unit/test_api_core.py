"""The API's pure parts: tokens and roles, parameter and body validation, the OpenAPI document built
from the operation table, and the Prometheus text format."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from middleware.api import auth
from middleware.api.app import document, visible
from middleware.api.metrics import Sample, exposition, quantile, summary
from middleware.api.resources import OPERATIONS
from middleware.api.spec import BadRequest, Param, parse_body, parse_params

ZERO = bytes(32)


def test_a_token_is_256_random_bits_and_only_its_digest_is_kept() -> None:
    token = auth.new_token(ZERO)
    assert token == "cc_" + "A" * 43
    assert auth.token_digest(token) == auth.token_digest(token) != auth.token_digest(auth.new_token(b"\1" * 32))
    assert len(auth.token_digest(token)) == 64 and token not in auth.token_digest(token)
    with pytest.raises(ValueError):
        auth.new_token(b"short")


@pytest.mark.parametrize(("header", "query", "why"), [
    (None, None, "missing bearer token"),
    ("Basic dXNlcjpwYXNz", None, "must be 'Bearer <token>'"),
    ("Bearer ", None, "must be 'Bearer <token>'"),
    ("Bearer cc_tooshort", None, "malformed token"),
    ("Bearer " + "cc_" + "A" * 42 + "!", None, "malformed token"),
    (None, "cc_" + "A" * 44, "malformed token"),
])
def test_unusable_credentials_are_refused_with_the_reason(header: str | None, query: str | None, why: str) -> None:
    with pytest.raises(auth.Unauthorized, match=why):
        auth.token_from(header, query)


def test_the_header_wins_over_the_query_and_either_works() -> None:
    a, b = auth.new_token(ZERO), auth.new_token(b"\1" * 32)
    assert auth.token_from(f"bearer {a}", b) == a
    assert auth.token_from(None, b) == b


def test_roles_are_ranked_and_tokens_shaped_by_role() -> None:
    agent = auth.Principal(1, "agent", 7, "acme", "a1")
    supervisor = auth.Principal(2, "supervisor", 7, "acme")
    auth.require(supervisor, "agent")
    auth.require(supervisor, "supervisor")
    with pytest.raises(auth.Forbidden, match="needs the admin role"):
        auth.require(supervisor, "admin")
    with pytest.raises(auth.Forbidden):
        auth.require(agent, "supervisor")
    assert supervisor.sees_tenant(7) and not supervisor.sees_tenant(8)
    assert auth.Principal(3, "admin", None, None).sees_tenant(8)
    auth.check_grant("admin", None, None)
    auth.check_grant("agent", "acme", "a1")
    for role, tenant, agent_code in (("supervisor", None, None), ("agent", "acme", None), ("supervisor", "acme", "a1"),
                                     ("root", "acme", None)):
        with pytest.raises(ValueError):
            auth.check_grant(role, tenant, agent_code)  # type: ignore[arg-type]


def test_events_reach_only_their_tenant() -> None:
    acme = auth.Principal(1, "supervisor", 7, "acme")
    admin = auth.Principal(2, "admin", None, None)
    assert visible(acme, {"tenant": "acme"}) and not visible(acme, {"tenant": "globex"})
    assert not visible(acme, {"kind": "no tenant"}) and visible(admin, {"tenant": "globex"})


def test_query_values_are_typed_and_checked() -> None:
    params = (Param("limit", "integer", minimum=1, maximum=1000, default=100), Param("since", "date-time"),
              Param("state", enum=("available", "paused")), Param("caller", pattern=r"^\+?[0-9]{1,20}$"),
              Param("min_s", "number", minimum=0, maximum=86400), Param("live", "boolean"))
    got = parse_params(params, {"limit": "5", "since": "2026-11-23T08:00:00+01:00", "state": "paused",
                                "caller": "+331", "min_s": "2.5", "live": "true"}, "query")
    assert got == {"limit": 5, "since": datetime(2026, 11, 23, 7, tzinfo=UTC), "state": "paused", "caller": "+331",
                   "min_s": 2.5, "live": True}
    assert parse_params(params, {}, "query")["limit"] == 100
    for raw, why in [({"limit": "0"}, "between 1 and 1000"), ({"limit": "1e3"}, "not an integer"),
                     ({"limit": "9" * 30}, "not an integer"), ({"since": "2026-11-23"}, "UTC offset"),
                     ({"since": "soon"}, "ISO 8601"), ({"state": "asleep"}, "one of available, paused"),
                     ({"caller": "12a"}, "does not match"), ({"min_s": "nan"}, "expected a number"),
                     ({"min_s": "-1"}, "between 0"), ({"live": "yes"}, "true or false"),
                     ({"other": "1"}, "unknown query parameter"), ({"caller": "1\x002"}, "control characters")]:
        with pytest.raises(BadRequest, match=why):
            parse_params(params, raw, "query")
    with pytest.raises(BadRequest, match="missing path parameter code"):
        parse_params((Param("code", required=True),), {}, "path")


def test_bodies_are_objects_of_known_fields() -> None:
    fields = (Param("number", required=True, max_length=40), Param("name", max_length=5),
              Param("count", "integer", maximum=3))
    assert parse_body(fields, {"number": "+1202"}) == {"number": "+1202", "name": None, "count": None}
    for body, why in [([], "JSON object"), ({}, "missing field number"), ({"number": 5}, "expected a string"),
                      ({"number": "1", "x": 1}, r"unknown field\(s\): x"), ({"number": "1", "name": "toolong"},
                                                                           "longer than 5"),
                      ({"number": "1", "count": True}, "expected an integer"),
                      ({"number": "1", "count": 4}, "between 0 and 3")]:
        with pytest.raises(BadRequest, match=why):
            parse_body(fields, body)


def test_the_openapi_document_is_the_operation_table() -> None:
    doc = document()
    assert doc["openapi"] == "3.1.0" and doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    ids = [op.operation_id for op in OPERATIONS]
    assert len(ids) == len(set(ids)), "operation ids must be unique"
    for op in OPERATIONS:
        entry = doc["paths"][op.path][op.method.lower()]
        assert entry["operationId"] == op.operation_id
        assert {p["name"] for p in entry["parameters"]} == {p.name for p in op.path_params + op.query}
        assert {"400", "401", "403", "404", str(op.success)} <= set(entry["responses"])
        for name in {seg[1:-1] for seg in op.path.split("/") if seg.startswith("{")}:
            assert name in {p.name for p in op.path_params}, f"{op.path}: {name} undeclared"
    assert doc["paths"]["/healthz"]["get"]["security"] == [] and "/metrics" in doc["paths"]


def test_prometheus_text_format() -> None:
    text = exposition([Sample("cc_calls", "gauge", "calls now", 3), Sample("cc_lag_seconds", "gauge", "lag", 0.25),
                       Sample("cc_events_total", "counter", "events", 10, {"node": 'a"b\\c'}),
                       Sample("cc_events_total", "counter", "events", 2, {"node": "z"})])
    assert text == ("# HELP cc_calls calls now\n# TYPE cc_calls gauge\ncc_calls 3\n"
                    "# HELP cc_lag_seconds lag\n# TYPE cc_lag_seconds gauge\ncc_lag_seconds 0.25\n"
                    "# HELP cc_events_total events\n# TYPE cc_events_total counter\n"
                    'cc_events_total{node="a\\"b\\\\c"} 10\ncc_events_total{node="z"} 2\n')
    with pytest.raises(ValueError):
        exposition([Sample("bad-name", "gauge", "x", 1)])
    latency = exposition(summary("cc_turnaround_seconds", "turnaround", [0.001 * i for i in range(1, 101)]))
    assert latency == ("# HELP cc_turnaround_seconds turnaround\n# TYPE cc_turnaround_seconds summary\n"
                       'cc_turnaround_seconds{quantile="0.5"} 0.05\ncc_turnaround_seconds{quantile="0.9"} 0.09\n'
                       'cc_turnaround_seconds{quantile="0.99"} 0.099\ncc_turnaround_seconds_sum 5.05\n'
                       "cc_turnaround_seconds_count 100\n")
    assert quantile([], 0.5) != quantile([], 0.5)  # NaN when nothing was measured
    # Samples of two families given per trunk, interleaved: each family still comes out in one block.
    mixed = exposition([Sample("cc_up", "gauge", "up", 1, {"trunk": "a"}),
                        Sample("cc_rtt", "gauge", "rtt", 2, {"trunk": "a"}),
                        Sample("cc_up", "gauge", "up", 0, {"trunk": "b"})])
    assert mixed == ('# HELP cc_up up\n# TYPE cc_up gauge\ncc_up{trunk="a"} 1\ncc_up{trunk="b"} 0\n'
                     '# HELP cc_rtt rtt\n# TYPE cc_rtt gauge\ncc_rtt{trunk="a"} 2\n')
