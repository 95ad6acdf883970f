"""Fixtures of the sweep tests: the tiny sweep of ``tiny_sweeps.py``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "metarl_tests_tiny_sweeps", Path(__file__).with_name("tiny_sweeps.py")
)
tiny_sweeps = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tiny_sweeps)


@pytest.fixture
def sweep():
    return tiny_sweeps.tiny_sweep()


@pytest.fixture
def make_sweep():
    """``tiny_sweep`` itself, for tests that vary its axes or budget."""
    return tiny_sweeps.tiny_sweep
