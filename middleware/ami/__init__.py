"""AMI: a wrapper around panoramisk's Manager (reconnect, watchdog, resync) and typed events."""
