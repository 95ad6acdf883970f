"""Writing results: one stderr logger, one strict-JSON encoder, one atomic JSON writer.

Every command (train, eval, probe, sweep) reports through these, so a summary is
always strict JSON (NaN and inf become null), and a reader never sees a
half-written file: a kill leaves either the old file or the new one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

PREFIX = "metarl"


def log(message: str) -> None:
    """One progress or status line on stderr (stdout is kept for results)."""
    sys.stderr.write(f"{PREFIX}: {message}\n")
    sys.stderr.flush()


def json_ready(value: Any) -> Any:
    """NaN / inf -> None, numpy -> Python, intervals -> their JSON form, recursively."""
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        return json_ready(to_json())
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_ready(dataclasses.asdict(value))
    return value


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as strict, indented JSON atomically (temp file, fsync, rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as handle:
        handle.write(json.dumps(json_ready(data), indent=2) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())
