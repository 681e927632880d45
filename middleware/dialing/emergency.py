"""Emergency calls (pure core): which short numbers of a country are emergency services, the trunks an
emergency call may take and the caller ID it presents.

An emergency call never asks the middleware: the numbers are rendered into every phone's dialplan
(provision/render.py) and reach a trunk whatever the agent's state or permission, whatever the dialing
policy or rate limits, with the phone's location caller ID (``phone set --emergency-cid``, else the
tenant's). The numbers are libphonenumber's short-number metadata for the tenant's country (911 and
112 in the US, 999 and 112 in the UK, 112 and 15/17/18 in France ...), 112 everywhere as GSM phones do.
The trunks: the tenant's routes' trunks, then its allowed trunks, then every other trunk of the center:
an emergency call is never left without a way out because of tenancy.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Sequence

from phonenumbers.phonemetadata import PhoneMetadata

ALWAYS = ("112",)  # GSM's emergency number: handsets dial it anywhere; carriers route it
MAX_DIGITS = 5  # (South Africa's 10111, India's 2611 ...)


@functools.lru_cache(maxsize=64)
def emergency_numbers(country: str) -> tuple[str, ...]:
    """The emergency short numbers of a country (ISO 3166 alpha-2), shortest first."""
    found = set(ALWAYS)
    metadata = PhoneMetadata.short_metadata_for_region(country.upper())
    if metadata is not None and metadata.emergency is not None and metadata.emergency.national_number_pattern:
        pattern = re.compile(metadata.emergency.national_number_pattern)
        lengths = [n for n in (metadata.emergency.possible_length or range(2, MAX_DIGITS + 1)) if n <= MAX_DIGITS]
        for n in lengths:
            found.update(s for s in ("".join(d) for d in itertools.product("0123456789", repeat=n))
                         if pattern.fullmatch(s))
    return tuple(sorted(found, key=lambda s: (len(s), s)))


def emergency_trunks(route_trunks: Sequence[str], allowed: Iterable[str], every: Iterable[str]) -> tuple[str, ...]:
    """The order an emergency call tries trunks in: the tenant's routes', its allowed ones, the rest."""
    return tuple(dict.fromkeys([*route_trunks, *sorted(allowed), *sorted(every)]))
