"""AMI: our client on asyncio streams (parse once, reconnect, watchdog, resync), typed actions and queries."""
