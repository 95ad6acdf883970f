"""Frozen evaluation: every agent (checkpoint or reference) on identical episodes.

``play.Player`` plays any policy (a checkpoint's params as arguments, with seed
and sweep-point axes) on episodes that depend on the key alone;
``summary`` turns their ``[step, episode]`` arrays into learning-after-freeze
statistics, each an ``Interval`` (``metrics`` the measures, ``statistics`` the
intervals: bootstrap over episodes, t over seeds, cluster-robust); ``families``
holds one ``FamilySpec`` per env family (suites, references, thinking
references); ``suites`` names the episode sets and ``run_eval.evaluate_run`` is
``metarl eval``.
"""

from metarl.evaluation.play import Player, Rollouts
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
    "Player",
    "Policy",
    "PolicyInputs",
    "Rollouts",
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
