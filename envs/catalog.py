"""The registered environment names. Add a family's names here, versioned."""

from metarl.envs.bandit import BanditConfig, build_bandit
from metarl.envs.registry import register

register(
    "bandit-bernoulli-v0",
    BanditConfig,
    build_bandit,
    "k-armed Bernoulli bandit, arm means ~ U(0,1), H pulls (RL^2 / Duan et al. 2016).",
    reward_type="bernoulli",
)
register(
    "bandit-gaussian-v0",
    BanditConfig,
    build_bandit,
    "k-armed Gaussian bandit, arm means ~ U(0,1), unit reward noise.",
    reward_type="gaussian",
)
register(
    "bandit-dependent-v0",
    BanditConfig,
    build_bandit,
    "Two-armed Bernoulli bandit with means p and 1-p (Wang et al. 2018).",
    num_arms=2,
    prior="dependent",
)
register(
    "bandit-restless-v0",
    BanditConfig,
    build_bandit,
    "Bernoulli bandit whose means follow a logit random walk (volatility 0.1) with change-points (hazard 0.02).",
    drift="random_walk+change_point",
    volatility=0.1,
    hazard=0.02,
)
