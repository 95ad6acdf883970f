"""Multi-host start-up: one SPMD program over every process's devices.

``initialize`` calls ``jax.distributed.initialize`` explicitly, only when asked
(``--distributed``), and lets its error through: a pod whose processes did not
connect must fail loudly, not train as N independent single-host runs writing
over each other's run directory.

Where the processes find each other comes from flags, else from environment
variables (``METARL_COORDINATOR_ADDRESS``, ``METARL_NUM_PROCESSES``,
``METARL_PROCESS_ID``), else from JAX's own cluster auto-detection (TPU pods,
SLURM, ...), which needs none of them.

This module must not import ``metarl.envs`` (nor gymnax): importing gymnax starts
the JAX backend, after which ``jax.distributed.initialize`` refuses to run.
"""

from __future__ import annotations

import dataclasses
import os

import jax

COORDINATOR_ENV = "METARL_COORDINATOR_ADDRESS"
NUM_PROCESSES_ENV = "METARL_NUM_PROCESSES"
PROCESS_ID_ENV = "METARL_PROCESS_ID"


class DistributedConfigError(ValueError):
    """A distributed setting (flag or environment variable) is malformed."""


@dataclasses.dataclass(frozen=True)
class DistributedSettings:
    coordinator_address: str | None = None
    """host:port of process 0's coordinator; None lets JAX auto-detect (TPU pods)."""
    num_processes: int | None = None
    """Total processes in the job; None: auto-detect."""
    process_id: int | None = None
    """This process's index in [0, num_processes); None: auto-detect."""


def _env_int(name: str) -> int | None:
    text = os.environ.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise DistributedConfigError(
            f"environment variable {name} = {text!r} must be an integer"
        ) from None


def settings_from(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> DistributedSettings:
    """Flags first, then METARL_* environment variables; checked before anything starts."""
    settings = DistributedSettings(
        coordinator_address=coordinator_address or os.environ.get(COORDINATOR_ENV) or None,
        num_processes=num_processes if num_processes is not None else _env_int(NUM_PROCESSES_ENV),
        process_id=process_id if process_id is not None else _env_int(PROCESS_ID_ENV),
    )
    if settings.num_processes is not None and settings.num_processes < 1:
        raise DistributedConfigError(
            f"distributed: num_processes = {settings.num_processes} must be >= 1"
        )
    if settings.process_id is not None:
        if settings.process_id < 0 or (
            settings.num_processes is not None and settings.process_id >= settings.num_processes
        ):
            raise DistributedConfigError(
                f"distributed: process_id = {settings.process_id} must be in [0, {settings.num_processes})"
            )
    return settings


def initialize(settings: DistributedSettings) -> None:
    """``jax.distributed.initialize`` with whatever was given; errors propagate unchanged."""
    jax.distributed.initialize(
        coordinator_address=settings.coordinator_address,
        num_processes=settings.num_processes,
        process_id=settings.process_id,
    )


def is_primary() -> bool:
    """Process 0 writes the run dir's logs; every process takes part in checkpoints."""
    return jax.process_index() == 0
