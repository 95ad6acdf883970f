import json
import math

import numpy as np

from metarl.interval import Interval, is_interval_json
from metarl.reporting import json_ready, read_json, write_json


def test_interval_json_round_trip_and_half_width():
    estimate = Interval.from_half_width(np.float32(2.0), 0.5)
    assert estimate == Interval(2.0, 1.5, 2.5)
    assert estimate.half_width == 0.5
    data = estimate.to_json()
    assert data == {"value": 2.0, "low": 1.5, "high": 2.5}
    assert is_interval_json(data)
    assert Interval.from_json(data) == estimate
    other_level = Interval(1.0, 0.0, 2.0, level=0.9)
    assert Interval.from_json(other_level.to_json()) == other_level


def test_interval_decisions_need_both_bounds():
    assert Interval(1.0, 0.2, 1.8).excludes(0.0)
    assert Interval(1.0, 0.2, 1.8).above(0.0)
    assert not Interval(1.0, -0.2, 1.8).excludes(0.0)
    assert Interval(-1.0, -1.8, -0.2).below(0.0)
    one_seed = Interval(3.0, None, None)
    assert math.isnan(one_seed.low) and not one_seed.has_bounds
    assert not one_seed.excludes(0.0)
    assert one_seed.format() == "3.000"
    assert Interval(1.0, 0.5, 1.5).format(".1f") == "1.0 [0.5, 1.5]"


def test_json_ready_is_strict_json(tmp_path):
    data = {
        "estimate": Interval(1.0, None, 2.0),
        "array": np.arange(3, dtype=np.int64),
        "nan": float("nan"),
        "flag": np.bool_(True),
        "float32": np.float32(0.25),
    }
    ready = json_ready(data)
    assert ready == {
        "estimate": {"value": 1.0, "low": None, "high": 2.0},
        "array": [0, 1, 2],
        "nan": None,
        "flag": True,
        "float32": 0.25,
    }
    path = tmp_path / "summary.json"
    write_json(path, data)
    assert read_json(path) == ready
    assert json.loads(path.read_text(), parse_constant=lambda c: 1 / 0) == ready
    assert not (tmp_path / "summary.json.tmp").exists()
