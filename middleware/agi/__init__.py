"""FastAGI: our own server on asyncio streams (panoramisk's freezes its loop on a truncated request)."""
