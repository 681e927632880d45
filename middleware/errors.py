"""The errors the center raises on purpose, under one base.

``CallcenterError`` is what a handler (FastAGI route, API, CLI, background loop) may expect and turn
into a protocol answer, an HTTP status or one clear CLI line; anything else is a bug and reaches the
supervisor or the server's fallback with its traceback. Its two families:

- ``Unavailable``: a service the center depends on does not answer now (PostgreSQL, Asterisk's AMI).
  Background loops log it and try again on their next tick; the IVR sends the caller to the dialplan's
  fallback at once.
- ``Refused``: such a service answered and refused an action (AMI ``Response: Error``: a queue it does
  not know, a channel already gone). A background loop logs it and goes on, as for ``Unavailable``.
- ``Invalid``: a request or document the center refuses (a flow, a lead row, a number the dialing
  policy refuses, an agent action in the wrong state). Also a ``ValueError``, as they always were.

Database errors are mapped to ``DatabaseUnavailable`` once, in ``store/database.py`` (the pool), so no
other module catches psycopg's exception types.
"""

from __future__ import annotations


class CallcenterError(Exception):
    """Base of every error the center raises on purpose."""


class Unavailable(CallcenterError):
    """A service the center depends on (PostgreSQL, Asterisk) does not answer now."""


class Refused(CallcenterError):
    """A service the center depends on answered and refused an action."""


class Invalid(CallcenterError, ValueError):
    """A request, document or input row the center refuses, with the reason."""
