"""IVR: the caller's first minute. Flows, schedules and the engine are pure; adapter.py speaks FastAGI and SQL."""
