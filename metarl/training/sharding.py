"""Data parallelism with jax.sharding: one SPMD program on 1 or N devices.

The mesh has one axis, ``'data'``. The env axis of the train state (second axis,
after seeds) is split over it, ``P(None, 'data')``; parameters, optimizer state, keys
and counters are replicated, ``P()``. The jitted chunk is given these shardings and
XLA's partitioner inserts the gradient all-reduce, so the same config and the same
code run on one device or many and compute the same numbers (up to the order of
floating-point sums).
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from metarl.errors import ConfigError
from metarl.training.state import ENV_BATCHED_FIELDS, TrainState

DATA_AXIS = "data"


def make_mesh(num_devices: int | None = None) -> Mesh:
    """A 1-D mesh over the first ``num_devices`` devices (all of them when None)."""
    devices = jax.devices()
    if num_devices is None:
        num_devices = len(devices)
    if not 1 <= num_devices <= len(devices):
        raise ConfigError(
            f"num_devices = {num_devices} is out of range; allowed: 1..{len(devices)} (devices present)"
        )
    return jax.make_mesh(
        (num_devices,),
        (DATA_AXIS,),
        axis_types=(jax.sharding.AxisType.Auto,),
        devices=devices[:num_devices],
    )


def check_divisible(num_envs: int, mesh: Mesh) -> None:
    size = int(np.prod(mesh.devices.shape))
    if num_envs % size:
        raise ConfigError(
            f"config: field 'run.num_envs' = {num_envs} must be a multiple of the number of "
            f"devices in the mesh ({size}); the env axis is split across devices"
        )


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def env_batched(mesh: Mesh) -> NamedSharding:
    """Leaves shaped [num_seeds, num_envs, ...]: env axis over 'data'."""
    return NamedSharding(mesh, PartitionSpec(None, DATA_AXIS))


def train_state_shardings(state: TrainState, mesh: Mesh) -> TrainState:
    """A TrainState-shaped tree of shardings for a (possibly abstract) seeded state."""
    by_field = {}
    for field in dataclasses.fields(state):
        value = getattr(state, field.name)
        if field.name in ENV_BATCHED_FIELDS:
            by_field[field.name] = jax.tree.map(
                lambda leaf: env_batched(mesh) if leaf.ndim >= 2 else replicated(mesh), value
            )
        else:
            by_field[field.name] = jax.tree.map(lambda _: replicated(mesh), value)
    return TrainState(**by_field)
