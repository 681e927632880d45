"""Prometheus text exposition (format 0.0.4) of the service's figures: pure, so it is unit-tested."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")


@dataclass(frozen=True)
class Sample:
    name: str
    kind: Literal["counter", "gauge", "summary"]
    help: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


def _label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def quantile(values: list[float], q: float) -> float:
    """The q-quantile of ``values`` (nearest rank); NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary(name: str, help_text: str, values: list[float], qs: tuple[float, ...] = (0.5, 0.9, 0.99)
            ) -> list[Sample]:
    """A Prometheus summary of recent values: quantiles, _sum and _count."""
    out = [Sample(name, "summary", help_text, quantile(values, q), {"quantile": f"{q:g}"}) for q in qs]
    return [*out, Sample(f"{name}_sum", "summary", help_text, math.fsum(values)),
            Sample(f"{name}_count", "summary", help_text, len(values))]


def _family(s: Sample) -> str:
    return s.name.removesuffix("_sum").removesuffix("_count") if s.kind == "summary" else s.name


def exposition(samples: list[Sample]) -> str:
    """HELP and TYPE once per metric family, then all its samples together (the format wants each
    family in one block, whatever order the samples came in: per trunk, say); names are checked, label
    values escaped. A summary's ``_sum`` and ``_count`` samples belong to the family named without the
    suffix."""
    families: dict[str, list[Sample]] = {}
    for s in samples:
        if not _NAME.match(s.name):
            raise ValueError(f"not a Prometheus metric name: {s.name!r}")
        families.setdefault(_family(s), []).append(s)
    out: list[str] = []
    for family, members in families.items():
        out.append(f"# HELP {family} {members[0].help}")
        out.append(f"# TYPE {family} {members[0].kind}")
        for s in members:
            labels = ",".join(f'{k}="{_label_value(v)}"' for k, v in sorted(s.labels.items()))
            out.append(f"{s.name}{{{labels}}} {_number(s.value)}" if labels else f"{s.name} {_number(s.value)}")
    return "\n".join(out) + "\n"
