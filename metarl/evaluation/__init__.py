"""Frozen evaluation: every agent (checkpoint or reference) on identical episodes.

``evaluate_policy`` plays episodes; ``metrics`` turns their ``[step, episode]``
arrays into learning-after-freeze statistics; ``statistics`` gives intervals
(bootstrap over episodes, t over seeds); ``suites`` names the episode sets and
``run_eval.evaluate_run`` is ``metarl eval``.
"""

from metarl.evaluation.policy import Policy, PolicyInputs
from metarl.evaluation.rollout import EpisodeBatch, evaluate_policy
from metarl.evaluation.run_eval import evaluate_run
from metarl.evaluation.statistics import (
    bootstrap_counts,
    bootstrap_curve,
    bootstrap_mean,
    mean_interval,
    paired_difference,
    seed_interval,
)
from metarl.evaluation.suites import build_suite, check_suite

__all__ = [
    "EpisodeBatch",
    "Policy",
    "PolicyInputs",
    "bootstrap_counts",
    "bootstrap_curve",
    "bootstrap_mean",
    "build_suite",
    "check_suite",
    "evaluate_policy",
    "evaluate_run",
    "mean_interval",
    "paired_difference",
    "seed_interval",
]
