"""metarl: meta-RL inner-learning experiments in JAX."""

from metarl._xla_flags import apply_cpu_flags as _apply_cpu_flags

_apply_cpu_flags()

__version__ = "0.1.0"
