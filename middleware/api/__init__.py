"""HTTP API (aiohttp): health now; the supervisor API and wallboard grow here."""
