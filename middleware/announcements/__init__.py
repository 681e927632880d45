"""Position and expected-wait announcements: to a caller as they join a queue (the IVR) and every
few seconds while they wait (whispered into their channel)."""
