"""SIP security: addresses that keep failing authentication are blocked for a while."""
