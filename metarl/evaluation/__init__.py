"""Frozen evaluation: every agent (checkpoint or reference) on identical episodes."""

from metarl.evaluation.policy import Policy, PolicyInputs
from metarl.evaluation.rollout import EpisodeBatch, evaluate_policy
from metarl.evaluation.statistics import mean_interval, paired_difference

__all__ = ["EpisodeBatch", "Policy", "PolicyInputs", "evaluate_policy", "mean_interval", "paired_difference"]
