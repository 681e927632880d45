"""A handler that raises must not stop the AMI consumer: the next event is still handled."""

import asyncio
from datetime import UTC, datetime

from middleware.ami.client import AmiClient
from middleware.pbx_events import event_from_headers


async def test_the_consumer_survives_a_failing_handler() -> None:
    seen: list[str] = []

    async def handler(event) -> None:  # type: ignore[no-untyped-def]
        seen.append(event.name)
        if event.name == "Boom":
            raise RuntimeError("handler bug")

    client = AmiClient(host="127.0.0.1", port=1, username="u", secret="s", action_timeout=1, on_event=handler)
    task = asyncio.create_task(client._consume())
    for name in ("Boom", "Hangup"):
        event = event_from_headers({"Event": name, "Linkedid": "1.1"}, datetime.now(UTC))
        client._events.put_nowait(event)
    for _ in range(50):
        if len(seen) == 2:
            break
        await asyncio.sleep(0.01)
    assert seen == ["Boom", "Hangup"] and not task.done()
    task.cancel()
