"""Report charts as PNG files (matplotlib, no screen): calls by hour, service level by hour, agent
occupancy. The numbers come from kpis.report, so a chart and the table never disagree."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from middleware.reports import kpis


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def draw_all(calls: Sequence[kpis.CallFact], spans: Sequence[kpis.StateSpan], start: datetime, end: datetime,
             out_dir: Path, *, service_level_s: float = 20.0) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    hours = [r for r in kpis.report(calls, spans, "hour", start, end, service_level_s=service_level_s)
             if r.group != "total"]
    agents = [r for r in kpis.report(calls, spans, "agent", start, end) if r.group != "total"]
    labels = [r.group[-5:] for r in hours]
    paths = []

    fig, ax = plt.subplots(figsize=(9, 4))
    ax.bar(labels, [r.answered for r in hours], label="answered")
    ax.bar(labels, [r.abandoned for r in hours], bottom=[r.answered for r in hours], label="abandoned")
    ax.set_title("Calls offered by hour")
    ax.set_ylabel("calls")
    ax.legend()
    paths.append(_save(fig, out_dir / "volume_by_hour.png"))

    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(labels, [(r.service_level or 0) * 100 for r in hours], marker="o")
    ax.set_ylim(0, 100)
    ax.set_title(f"Service level by hour (answered within {service_level_s:.0f} s)")
    ax.set_ylabel("%")
    paths.append(_save(fig, out_dir / "service_level_by_hour.png"))

    fig, ax = plt.subplots(figsize=(9, 4))
    ax.bar([r.group for r in agents], [(r.occupancy or 0) * 100 for r in agents])
    ax.set_ylim(0, 100)
    ax.set_title("Agent occupancy (on calls and wrap-up / staffed time)")
    ax.set_ylabel("%")
    paths.append(_save(fig, out_dir / "agent_occupancy.png"))
    return paths
