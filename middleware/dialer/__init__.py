"""Outbound campaigns: lead import, do-not-call, hopper, pacing and the dialer that runs them."""
