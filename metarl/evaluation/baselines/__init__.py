"""Reference agents of known mechanism, on the same policy protocol as checkpoints."""

from metarl.evaluation.baselines.bandit import random_policy, thompson_sampling

__all__ = ["random_policy", "thompson_sampling"]
