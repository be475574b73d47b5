"""What every benchmark report carries: the machine it was measured on, and how it is saved."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path


def machine() -> dict:
    """CPU model, cores, memory and Python of this machine."""
    try:
        import psutil
        memory = f"{psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:
        memory = "?"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": memory,
            "python": platform.python_version(), "platform": platform.platform()}


def write_json(report: dict, out: Path | None) -> None:
    """Write ``report`` to ``out`` (when given) and say where."""
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2), encoding="utf-8")
        print(f"\nwritten to {out}")
