"""IVR: the caller's first minute. Pure menu decisions here; service.py speaks FastAGI."""
