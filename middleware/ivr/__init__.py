"""IVR: the caller's first minute. Flows, schedules and the engine are pure; service.py speaks FastAGI and SQL."""
