"""The AMI client against an in-process fake Asterisk: login, lists, events, drops and reconnects."""

from __future__ import annotations

import asyncio

import pytest

from middleware.ami.client import AmiActionFailed, AmiClient, AmiUnavailable
from middleware.ami.wire import MessageReader
from middleware.pbx_events import AmiEvent


class FakeAsterisk:
    """Speaks just enough AMI: a banner, Login, Ping, QueueStatus (a list) and a silent action."""

    def __init__(self, secret: str = "s") -> None:
        self.secret = secret
        self.logins = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        messages = MessageReader()
        while data := await reader.read(65536):
            for m in messages.feed(data):
                writer.write(self._answer(m))

    def _answer(self, m: dict[str, str]) -> bytes:
        aid = m.get("actionid", "")
        if m["action"] == "Login":
            if m.get("secret") != self.secret:
                return f"Response: Error\r\nActionID: {aid}\r\nMessage: Authentication failed\r\n\r\n".encode()
            self.logins += 1
            return (f"Response: Success\r\nActionID: {aid}\r\nMessage: Authentication accepted\r\n\r\n"
                    "Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\n").encode()
        if m["action"] == "QueueStatus":
            return (f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\n\r\n"
                    "Event: Hangup\r\nLinkedid: 1.1\r\n\r\n"  # an unrelated event in the middle of the list
                    f"Event: QueueMember\r\nActionID: {aid}\r\nName: 2001\r\n\r\n"
                    f"Event: QueueStatusComplete\r\nActionID: {aid}\r\nEventList: Complete\r\n\r\n").encode()
        if m["action"] == "Bad":
            return f"Response: Error\r\nActionID: {aid}\r\nMessage: Invalid/unknown command\r\n\r\n".encode()
        if m["action"] == "Silent":
            return b""
        return f"Response: Success\r\nActionID: {aid}\r\nPing: Pong\r\n\r\n".encode()

    def drop(self) -> None:
        for w in self.writers:
            w.transport.abort()
        self.writers.clear()

    async def close(self) -> None:
        self.drop()
        self.server.close()


@pytest.fixture
async def asterisk():  # type: ignore[no-untyped-def]
    fake = FakeAsterisk()
    port = await fake.start()
    yield fake, port
    await fake.close()


async def test_login_actions_lists_and_events(asterisk) -> None:  # type: ignore[no-untyped-def]
    _, port = asterisk
    events: list[AmiEvent] = []

    async def on_event(e: AmiEvent) -> None:
        events.append(e)

    client = AmiClient(host="127.0.0.1", port=port, username="u", secret="s", action_timeout=2, on_event=on_event)
    await client.start(wait=2)
    try:
        assert client.connected and client.version == "9.0.0"
        [pong] = await client.action({"Action": "Ping"})
        assert pong["ping"] == "Pong"
        listed = await client.action({"Action": "QueueStatus"}, as_list=True)
        assert [m.get("event", "") for m in listed] == ["", "QueueMember", "QueueStatusComplete"]
        with pytest.raises(AmiActionFailed, match="unknown command"):
            await client.action({"Action": "Bad"})
        await asyncio.sleep(0.05)
        assert [e.name for e in events] == ["FullyBooted", "Hangup"]
    finally:
        await client.close()


async def test_a_drop_fails_the_waiting_action_and_the_client_logs_in_again(asterisk) -> None:  # type: ignore[no-untyped-def]
    fake, port = asterisk
    client = AmiClient(host="127.0.0.1", port=port, username="u", secret="s", action_timeout=5, reconnect_delay=0.05)
    await client.start(wait=2)
    try:
        waiting = asyncio.create_task(client.action({"Action": "Silent"}))
        await asyncio.sleep(0.05)
        fake.drop()
        with pytest.raises(AmiUnavailable, match="lost"):
            await waiting
        await client.wait_connected(2)
        assert fake.logins == 2 and client.logins == 2
        assert (await client.action({"Action": "Ping"}))[0]["ping"] == "Pong"
    finally:
        await client.close()


async def test_wrong_secret_never_logs_in_and_actions_fail_fast(asterisk) -> None:  # type: ignore[no-untyped-def]
    fake, port = asterisk
    client = AmiClient(host="127.0.0.1", port=port, username="u", secret="wrong", action_timeout=1,
                       reconnect_delay=0.05)
    await client.start()
    try:
        with pytest.raises(AmiUnavailable):
            await client.wait_connected(0.3)
        with pytest.raises(AmiUnavailable, match="not logged in"):
            await client.action({"Action": "Ping"})
        assert fake.logins == 0
    finally:
        await client.close()


async def test_an_action_with_no_answer_times_out(asterisk) -> None:  # type: ignore[no-untyped-def]
    _, port = asterisk
    client = AmiClient(host="127.0.0.1", port=port, username="u", secret="s", action_timeout=2)
    await client.start(wait=2)
    try:
        with pytest.raises(AmiUnavailable, match="no response in time"):
            await client.action({"Action": "Silent"}, timeout=0.1)
        assert client._pending == {}
    finally:
        await client.close()
