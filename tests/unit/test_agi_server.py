"""The FastAGI server against a fake Asterisk on loopback: bad input costs only its own connection."""

from __future__ import annotations

import asyncio
import os
import random

import pytest

from middleware.agi.server import LOOPBACK, DuplicateRoute, FastAgiServer, Handler, peer_allowed, route_table
from middleware.agi.session import AgiHangup, AgiSession
from middleware.security.auth_failures import parse_networks

HEADER = (
    "agi_network: yes\nagi_network_script: {script}?did=5551000&linkedid=L1\n"
    "agi_channel: PJSIP/carrier-sim-00000001\nagi_uniqueid: L1\nagi_callerid: 12125550101\n\n"
)


class FakeAsterisk:
    """The Asterisk side of one FastAGI connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, script: str = "ivr") -> FakeAsterisk:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEADER.format(script=script).encode())
        await writer.drain()
        return cls(reader, writer)

    async def expect(self, prefix: str) -> str:
        line = (await asyncio.wait_for(self.reader.readline(), 5)).decode()
        assert line.startswith(prefix), line
        return line

    async def reply(self, *lines: str) -> None:
        self.writer.write("".join(line + "\n" for line in lines).encode())
        await self.writer.drain()

    def close(self) -> None:
        self.writer.close()


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """True once the server has closed the connection (EOF, or a reset when we were still sending)."""
    try:
        return await asyncio.wait_for(reader.read(), 5) == b""
    except ConnectionResetError:
        return True


@pytest.fixture
async def make_server():
    servers: list[FastAgiServer] = []

    async def make(routes: dict[str, Handler], **kw: float) -> FastAgiServer:
        server = FastAgiServer(routes, host="127.0.0.1", port=0, max_header_bytes=int(kw.get("max_bytes", 16384)),
                               header_timeout=kw.get("header_timeout", 2.0),
                               command_timeout=kw.get("command_timeout", 2.0))
        await server.start()
        servers.append(server)
        return server

    yield make
    for s in servers:
        await s.close()


async def test_menu_session_collects_digit_and_sets_variables(make_server) -> None:
    seen: dict[str, object] = {}

    async def ivr(session: AgiSession) -> None:
        seen["query"] = session.request.query
        seen["digits"] = await session.get_data("dir-pls-enter", 3000, 1)
        await session.set_variable("CC_QUEUE", "acme-sales")

    server = await make_server({"ivr": ivr})
    ast = await FakeAsterisk.connect(server.port)
    await ast.expect("GET DATA dir-pls-enter 3000 1")
    await ast.reply("200 result=1")
    await ast.expect("SET VARIABLE CC_QUEUE acme-sales")
    await ast.reply("200 result=1")
    assert await ast.reader.read() == b""  # the server hangs up its side when the handler is done
    assert seen == {"query": {"did": "5551000", "linkedid": "L1"}, "digits": ("1", False)}


async def test_truncated_header_does_not_stall_other_calls(make_server) -> None:
    async def ivr(session: AgiSession) -> None:
        await session.answer()

    server = await make_server({"ivr": ivr}, header_timeout=30.0)
    # One connection sends half a header and stays open; another sends half and closes.
    _r1, w1 = await asyncio.open_connection("127.0.0.1", server.port)
    w1.write(b"agi_network: yes\nagi_netw")
    _r2, w2 = await asyncio.open_connection("127.0.0.1", server.port)
    w2.write(b"agi_network: yes\nagi_chan")
    await w2.drain()
    w2.close()
    good = await FakeAsterisk.connect(server.port)
    await good.expect("ANSWER")
    await good.reply("200 result=0")
    assert await good.reader.read() == b""
    assert server.sessions_served == 1
    w1.close()


async def test_header_that_never_ends_is_cut_at_its_timeout(make_server) -> None:
    server = await make_server({}, header_timeout=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network: yes\n")
    await writer.drain()
    assert await closed_by_server(reader)
    assert server.requests_rejected == 1


async def test_one_megabyte_header_is_rejected(make_server) -> None:
    async def ivr(session: AgiSession) -> None:
        raise AssertionError("must not run")

    server = await make_server({"ivr": ivr}, max_bytes=16384)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    line = b"agi_padding: " + b"x" * 1000 + b"\n"
    try:
        for _ in range(1024):
            writer.write(line)
        writer.write(b"agi_network_script: ivr\n\n")
        await writer.drain()
    except ConnectionError:
        pass  # the server may close while we are still sending: that is the point
    assert await closed_by_server(reader)
    assert server.requests_rejected == 1
    assert server.sessions_served == 0


async def test_one_line_longer_than_the_bound_is_rejected(make_server) -> None:
    server = await make_server({}, max_bytes=1024)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network_script: " + b"a" * 100_000 + b"\n\n")
    try:
        await writer.drain()
    except ConnectionError:
        pass
    assert await closed_by_server(reader)
    assert server.requests_rejected == 1


async def test_binary_garbage_is_rejected(make_server) -> None:
    server = await make_server({})
    rng = random.Random(7)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(bytes(rng.randrange(256) for _ in range(4096)) + b"\n\n")
    await writer.drain()
    assert await closed_by_server(reader)
    assert server.requests_rejected == 1


async def test_hangup_in_the_middle_of_a_command(make_server) -> None:
    steps: list[str] = []
    done = asyncio.Event()

    async def ivr(session: AgiSession) -> None:
        try:
            steps.append(await session.stream_file("hello", "12"))
            steps.append("after-hangup-line" if session.hung_up else "no-hangup-seen")
            await session.get_data("beep", 3000, 1)
            steps.append("unreachable")
        except AgiHangup:
            steps.append("hangup")
            raise
        finally:
            done.set()

    server = await make_server({"ivr": ivr})
    ast = await FakeAsterisk.connect(server.port)
    await ast.expect("STREAM FILE hello 12")
    await ast.reply("HANGUP", "200 result=0 endpos=4000")
    await ast.expect("GET DATA beep 3000 1")
    await ast.reply("511 Command Not Permitted on a dead channel or intercept routine")
    await asyncio.wait_for(done.wait(), 5)
    assert steps == ["", "after-hangup-line", "hangup"]


async def test_connection_dropped_while_waiting_for_a_reply(make_server) -> None:
    outcome: list[str] = []
    done = asyncio.Event()

    async def ivr(session: AgiSession) -> None:
        try:
            await session.get_data("beep", 3000, 1)
        except AgiHangup:
            outcome.append("hangup")
        finally:
            done.set()

    server = await make_server({"ivr": ivr})
    ast = await FakeAsterisk.connect(server.port)
    await ast.expect("GET DATA")
    ast.writer.write(b"200 res")  # half a reply, then gone
    await ast.writer.drain()
    ast.close()
    await asyncio.wait_for(done.wait(), 5)
    assert outcome == ["hangup"]


async def test_no_reply_hits_the_command_timeout(make_server) -> None:
    async def ivr(session: AgiSession) -> None:
        await session.answer()

    server = await make_server({"ivr": ivr}, command_timeout=0.3)
    ast = await FakeAsterisk.connect(server.port)
    await ast.expect("ANSWER")
    assert await closed_by_server(ast.reader)  # server gave up and closed


async def test_unknown_script_leaves_an_error_for_the_dialplan(make_server) -> None:
    server = await make_server({"ivr": lambda s: asyncio.sleep(0)})
    ast = await FakeAsterisk.connect(server.port, script="nosuch")
    line = await ast.expect("SET VARIABLE CC_AGI_ERROR")
    assert "unknown script nosuch" in line


async def test_handler_crash_leaves_an_error_and_the_server_keeps_serving(make_server) -> None:
    async def broken(session: AgiSession) -> None:
        raise KeyError("boom")

    async def fine(session: AgiSession) -> None:
        await session.answer()

    server = await make_server({"broken": broken, "fine": fine})
    ast = await FakeAsterisk.connect(server.port, script="broken")
    line = await ast.expect("SET VARIABLE CC_AGI_ERROR")
    assert "KeyError" in line
    await ast.reply("200 result=1")
    ok = await FakeAsterisk.connect(server.port, script="fine")
    await ok.expect("ANSWER")


async def test_many_concurrent_sessions_with_garbage_in_between(make_server) -> None:
    async def ivr(session: AgiSession) -> None:
        digits, _ = await session.get_data("beep", 1000, 1)
        await session.set_variable("D", digits)

    server = await make_server({"ivr": ivr})

    async def one(i: int) -> str:
        if i % 5 == 0:
            _, w = await asyncio.open_connection("127.0.0.1", server.port)
            w.write(os.urandom(64))
            await w.drain()
            w.close()
            return "garbage"
        ast = await FakeAsterisk.connect(server.port)
        await ast.expect("GET DATA")
        await ast.reply(f"200 result={i % 10}")
        line = await ast.expect("SET VARIABLE D")
        await ast.reply("200 result=1")
        ast.close()
        return line.split()[-1]

    results = await asyncio.gather(*(one(i) for i in range(50)))
    assert [r for i, r in enumerate(results) if i % 5] == [str(i % 10) for i in range(50) if i % 5]


def test_duplicate_route_fails_at_start() -> None:
    async def h(session: AgiSession) -> None:
        return None

    with pytest.raises(DuplicateRoute):
        route_table([("ivr", h), ("/ivr", h)])


async def test_sessions_past_the_cap_are_refused_at_once_and_counted() -> None:
    """A flood of FastAGI connections used to get one task each, without limit."""
    release = asyncio.Event()

    async def ivr(session: AgiSession) -> None:
        await release.wait()

    server = FastAgiServer({"ivr": ivr}, host="127.0.0.1", port=0, max_header_bytes=16384, header_timeout=2.0,
                           command_timeout=2.0, max_sessions=2)
    await server.start()
    try:
        held = [await FakeAsterisk.connect(server.port) for _ in range(2)]
        for _ in range(100):
            if server.active_sessions == 2:
                break
            await asyncio.sleep(0.01)
        extra, _w = await asyncio.open_connection("127.0.0.1", server.port)
        assert await closed_by_server(extra)
        assert server.sessions_refused == 1 and server.active_sessions == 2
        release.set()
        for ast in held:
            assert await asyncio.wait_for(ast.reader.read(), 5) == b""
    finally:
        await server.close()


async def test_a_peer_outside_the_allowed_networks_is_refused() -> None:
    server = FastAgiServer({}, host="127.0.0.1", port=0, max_header_bytes=16384, header_timeout=2.0,
                           command_timeout=2.0, allow=parse_networks("10.0.0.0/8"))
    await server.start()
    try:
        reader, _w = await asyncio.open_connection("127.0.0.1", server.port)
        assert await closed_by_server(reader)
        assert server.peers_refused == 1 and server.sessions_served == 0 and server.requests_rejected == 0
    finally:
        await server.close()


def test_peer_addresses_are_matched_by_network() -> None:
    allow = LOOPBACK + parse_networks("192.0.2.10")
    assert peer_allowed("127.0.0.1", allow) and peer_allowed("::1", allow) and peer_allowed("192.0.2.10", allow)
    assert peer_allowed("::ffff:127.0.0.1", allow)  # IPv4-mapped
    assert not peer_allowed("192.0.2.11", allow) and not peer_allowed(None, allow) and not peer_allowed("x", allow)


async def test_header_and_replies_split_at_every_byte(make_server) -> None:
    """The header's blank line and each reply may straddle reads: fed one byte per write, with a pause."""
    seen: list[object] = []

    async def ivr(session: AgiSession) -> None:
        seen.append(await session.get_data("beep", 3000, 1))
        seen.append(await session.get_variable("CALLERID(num)"))

    server = await make_server({"ivr": ivr})
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)

    async def dribble(data: bytes) -> None:
        for i in range(len(data)):
            writer.write(data[i:i + 1])
            await writer.drain()
            await asyncio.sleep(0.001)

    await dribble(HEADER.format(script="ivr").encode())
    assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"GET DATA beep")
    await dribble(b"200 result=7\r\n")
    assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"GET FULL VARIABLE")
    await dribble(b"HANGUP\n200 result=1 (2125550101)\n")
    assert await closed_by_server(reader)
    assert seen == [("7", False), "2125550101"]


async def test_a_reply_nobody_asked_for_ends_the_session(make_server) -> None:
    """Two replies to one command: the second would be taken for the next command's answer."""
    outcome: list[str] = []

    async def ivr(session: AgiSession) -> None:
        await session.answer()
        await asyncio.sleep(0.2)
        try:
            await session.set_variable("X", "1")
        except Exception as exc:
            outcome.append(type(exc).__name__)
            raise

    server = await make_server({"ivr": ivr})
    ast = await FakeAsterisk.connect(server.port)
    await ast.expect("ANSWER")
    await ast.reply("200 result=0", "200 result=0")
    assert await closed_by_server(ast.reader)
    assert outcome == ["AgiProtocolError"]
