"""Reference agents of known mechanism, on the same policy protocol as checkpoints."""

from metarl.evaluation.baselines.bandit import (
    bandit_references,
    bayes_learner_greedy,
    epsilon_greedy,
    greedy,
    q_learning,
    random_policy,
    task_locator,
    thompson_sampling,
    tune_q_learning,
    ucb1,
    win_stay_lose_shift,
)
from metarl.evaluation.baselines.bayes_dp import bayes_optimal, bayes_optimal_value
from metarl.evaluation.baselines.change_point import change_point_bayesian
from metarl.evaluation.baselines.gittins import finite_horizon_gittins_table, gittins

__all__ = [
    "bandit_references",
    "bayes_learner_greedy",
    "bayes_optimal",
    "bayes_optimal_value",
    "change_point_bayesian",
    "epsilon_greedy",
    "finite_horizon_gittins_table",
    "tune_q_learning",
    "gittins",
    "greedy",
    "q_learning",
    "random_policy",
    "task_locator",
    "thompson_sampling",
    "ucb1",
    "win_stay_lose_shift",
]
