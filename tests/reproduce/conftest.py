"""Fixtures of the reproduction tests: the tiny rl2_bandits of ``tiny_reproduction.py``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "metarl_tests_tiny_reproduction", Path(__file__).with_name("tiny_reproduction.py")
)
tiny_reproduction = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tiny_reproduction)


@pytest.fixture(scope="session")
def rl2():
    """The rl2_bandits experiment module (its claim rules, published table, settings)."""
    return tiny_reproduction.rl2_module()


@pytest.fixture(scope="session")
def tiny():
    return tiny_reproduction
