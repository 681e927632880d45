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
    kind: Literal["counter", "gauge"]
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


def exposition(samples: list[Sample]) -> str:
    """HELP and TYPE once per metric name, then its samples; names are checked, label values escaped."""
    out: list[str] = []
    described: set[str] = set()
    for s in samples:
        if not _NAME.match(s.name):
            raise ValueError(f"not a Prometheus metric name: {s.name!r}")
        if s.name not in described:
            described.add(s.name)
            out.append(f"# HELP {s.name} {s.help}")
            out.append(f"# TYPE {s.name} {s.kind}")
        labels = ",".join(f'{k}="{_label_value(v)}"' for k, v in sorted(s.labels.items()))
        out.append(f"{s.name}{{{labels}}} {_number(s.value)}" if labels else f"{s.name} {_number(s.value)}")
    return "\n".join(out) + "\n"
