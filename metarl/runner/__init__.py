"""metarl.runner: the host side of training (run dirs, checkpoints, logs, multi-host).

Names are imported lazily: ``metarl.runner.distributed`` must be importable without
starting the JAX backend (``jax.distributed.initialize`` has to come first), and the
other modules import the env registry, which does start it.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "train": "metarl.runner.train_loop",
    "TrainResult": "metarl.runner.train_loop",
    "NonFiniteLossError": "metarl.runner.train_loop",
    "Checkpointer": "metarl.runner.checkpointing",
    "CheckpointError": "metarl.runner.checkpointing",
    "FORMAT_VERSION": "metarl.runner.checkpointing",
    "RunDir": "metarl.runner.run_dir",
    "RunDirError": "metarl.runner.run_dir",
    "MetricsLog": "metarl.runner.metrics_log",
    "read_records": "metarl.runner.metrics_log",
    "Progress": "metarl.runner.progress",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'metarl.runner' has no attribute {name!r}")
