"""Experiment configuration: typed, frozen, validated before anything compiles.

An experiment is ``ExperimentConfig(env, agent, algo, run)``. Every field has a
docstring; ``validate`` names the failing field by its dotted path and lists the
allowed values. Nothing here imports the trainer: configs flow one way.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from metarl.errors import ConfigError, check_choice, check_finite, check_range

CORES = ("gru", "lstm", "mlp", "transformer", "drc")
ALGORITHMS = ("a2c", "ppo")
OPTIMIZERS = ("adam", "rmsprop")
LR_SCHEDULES = ("constant", "linear")


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    name: str = "bandit-bernoulli-v0"
    """A registered metarl env name (see metarl.envs.registered_names()) or a gymnax name."""
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Keyword overrides passed to metarl.envs.make (e.g. {'num_arms': 5})."""


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    core: str = "gru"
    """Memory of the policy: 'gru', 'lstm', 'mlp' (no memory: the control), 'transformer',
    'drc' (Deep Repeated ConvLSTM; needs a grid observation, e.g. maze-grid-v0)."""
    hidden_size: int = 64
    """Width of the recurrent state / MLP core / transformer model dimension / drc output MLP."""
    embed_size: int = 64
    """Width of the observation embedding before the core (0: feed inputs directly)."""
    transformer_layers: int = 1
    """transformer: number of causal self-attention blocks."""
    transformer_heads: int = 2
    """transformer: attention heads per block."""
    transformer_context: int = 128
    """transformer: KV-cache length; the agent attends to at most this many past steps."""
    drc_depth: int = 3
    """drc: stacked ConvLSTM layers D (Guez et al. 2019's DRC(D, N))."""
    drc_ticks: int = 3
    """drc: ticks N, passes through the D layers per env step (a thinking step is N more)."""
    drc_channels: int = 32
    """drc: channels of the conv encoder and of every ConvLSTM layer (hidden_size: the MLP after)."""
    drc_input_channels: int = 2
    """drc: channels of the square grid the observation ends with (maze-grid-v0: 2)."""


@dataclasses.dataclass(frozen=True)
class AlgoConfig:
    name: str = "a2c"
    """'a2c' (n-step advantage actor-critic, Wang et al. 2016) or 'ppo' (clipped, recurrent minibatches)."""
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    """'constant' or 'linear' decay to 0 over the run (optax schedules)."""
    optimizer: str = "adam"
    """'adam' or 'rmsprop'."""
    gamma: float = 0.9
    """Discount factor (at the start of training when ``gamma_final`` is set)."""
    gamma_final: float | None = None
    """If set, the discount moves linearly from ``gamma`` to this value over the run: a
    short horizon while the policy is crude (high-discount returns are too noisy to learn
    from at first), a long one once it is good enough to credit exploration that pays off
    many steps later."""
    gae_lambda: float = 1.0
    """GAE lambda (1.0 = n-step returns, as in A2C)."""
    entropy_coef: float = 0.05
    """Entropy bonus weight at the start of training."""
    entropy_coef_final: float | None = None
    """If set, the entropy weight decays linearly to this value over the run."""
    value_coef: float = 0.5
    max_grad_norm: float = 0.5
    """Global gradient-norm clip (0 disables)."""
    clip_eps: float = 0.2
    """ppo: policy ratio clip."""
    update_epochs: int = 4
    """ppo: passes over each rollout."""
    num_minibatches: int = 4
    """ppo: minibatches over the env axis per epoch."""
    normalize_advantages: bool = False
    """Standardise advantages to zero mean, unit std per batch (a2c: the rollout; ppo: each minibatch)."""

    @property
    def discount_at_end(self) -> float:
        """The discount of the run's last updates: ``gamma_final`` when set, else ``gamma``."""
        return float(self.gamma if self.gamma_final is None else self.gamma_final)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    num_envs: int = 256
    """Parallel environments per seed (the global batch; sharded over devices)."""
    rollout_length: int = 100
    """Env steps per environment per update."""
    total_env_steps: int = 10_000_000
    """Env steps per seed over the whole run."""
    num_seeds: int = 1
    """Independent training seeds run in one program (vmapped)."""
    seed: int = 0
    """Base PRNG seed; seed i of a run uses fold_in(seed, i)."""
    updates_per_chunk: int = 50
    """Updates compiled into one device call; the host logs and checkpoints between chunks."""
    checkpoint_every_chunks: int = 1
    """Save a checkpoint every this many chunks."""
    keep_checkpoints: int = 3
    """Keep the last K checkpoints (plus the best one)."""
    best_metric: str = "mean_episode_return"
    """Metric (higher is better) that picks the kept 'best' checkpoint."""

    @property
    def num_updates(self) -> int:
        return max(1, self.total_env_steps // (self.num_envs * self.rollout_length))


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    name: str = "default"
    """Experiment name (the file under experiments/)."""
    description: str = ""
    """The question the experiment answers and the result it should show."""
    env: EnvConfig = dataclasses.field(default_factory=EnvConfig)
    agent: AgentConfig = dataclasses.field(default_factory=AgentConfig)
    algo: AlgoConfig = dataclasses.field(default_factory=AlgoConfig)
    run: RunConfig = dataclasses.field(default_factory=RunConfig)


def _fields(section: Any, prefix: str = ""):
    """(dotted name, value) of every leaf field, env.overrides included as one dict."""
    for field in dataclasses.fields(section):
        value = getattr(section, field.name)
        if dataclasses.is_dataclass(value):
            yield from _fields(value, f"{prefix}{field.name}.")
        else:
            yield f"{prefix}{field.name}", value


def _validate_drc(agent: AgentConfig) -> None:
    for name in ("drc_depth", "drc_ticks", "drc_channels", "drc_input_channels"):
        check_range("config", f"agent.{name}", getattr(agent, name), 1, integer=True)
    if agent.embed_size:
        raise ConfigError(
            f"config: field 'agent.embed_size' = {agent.embed_size} must be 0 with agent.core = "
            "'drc': its conv encoder reads the grid observation itself"
        )


def validate(config: ExperimentConfig) -> ExperimentConfig:
    """Raise ConfigError naming the first bad field (dotted path); return config unchanged."""
    # NaN and +-inf first, in every float field and env override: NaN passes range
    # checks (its comparisons are False) and would only show as a non-finite loss.
    for name, value in _fields(config):
        check_finite("config", name, value)
    agent, algo, run = config.agent, config.algo, config.run
    check_choice("config", "agent.core", agent.core, CORES)
    check_range("config", "agent.hidden_size", agent.hidden_size, 1, integer=True)
    check_range("config", "agent.embed_size", agent.embed_size, 0, integer=True)
    if agent.core == "transformer":
        check_range("config", "agent.transformer_layers", agent.transformer_layers, 1, integer=True)
        check_range("config", "agent.transformer_heads", agent.transformer_heads, 1, integer=True)
        check_range(
            "config", "agent.transformer_context", agent.transformer_context, 1, integer=True
        )
        if agent.hidden_size % agent.transformer_heads:
            raise ConfigError(
                f"config: field 'agent.hidden_size' = {agent.hidden_size} must be divisible by "
                f"agent.transformer_heads = {agent.transformer_heads}"
            )
    if agent.core == "drc":
        _validate_drc(agent)
    check_choice("config", "algo.name", algo.name, ALGORITHMS)
    check_choice("config", "algo.optimizer", algo.optimizer, OPTIMIZERS)
    check_choice("config", "algo.lr_schedule", algo.lr_schedule, LR_SCHEDULES)
    check_range("config", "algo.learning_rate", algo.learning_rate, 0.0, low_inclusive=False)
    check_range("config", "algo.gamma", algo.gamma, 0.0, 1.0)
    if algo.gamma_final is not None:
        check_range("config", "algo.gamma_final", algo.gamma_final, 0.0, 1.0)
    check_range("config", "algo.gae_lambda", algo.gae_lambda, 0.0, 1.0)
    check_range("config", "algo.entropy_coef", algo.entropy_coef, 0.0)
    if algo.entropy_coef_final is not None:
        check_range("config", "algo.entropy_coef_final", algo.entropy_coef_final, 0.0)
    check_range("config", "algo.value_coef", algo.value_coef, 0.0)
    check_range("config", "algo.max_grad_norm", algo.max_grad_norm, 0.0)
    check_range("config", "algo.clip_eps", algo.clip_eps, 0.0, low_inclusive=False)
    check_range("config", "algo.update_epochs", algo.update_epochs, 1, integer=True)
    check_range("config", "algo.num_minibatches", algo.num_minibatches, 1, integer=True)
    check_range("config", "run.num_envs", run.num_envs, 1, integer=True)
    check_range("config", "run.rollout_length", run.rollout_length, 1, integer=True)
    check_range("config", "run.total_env_steps", run.total_env_steps, 1, integer=True)
    check_range("config", "run.num_seeds", run.num_seeds, 1, integer=True)
    check_range("config", "run.seed", run.seed, 0, integer=True)
    check_range("config", "run.updates_per_chunk", run.updates_per_chunk, 1, integer=True)
    check_range(
        "config", "run.checkpoint_every_chunks", run.checkpoint_every_chunks, 1, integer=True
    )
    check_range("config", "run.keep_checkpoints", run.keep_checkpoints, 1, integer=True)
    if algo.name == "ppo" and run.num_envs % algo.num_minibatches:
        raise ConfigError(
            f"config: field 'algo.num_minibatches' = {algo.num_minibatches} must divide "
            f"run.num_envs = {run.num_envs} (PPO minibatches split the env axis)"
        )
    from metarl import envs  # late: env registration is not needed to import the config types

    if config.env.name not in envs.registered_names():
        import gymnax

        if config.env.name not in gymnax.registered_envs:
            check_choice(
                "config",
                "env.name",
                config.env.name,
                envs.registered_names() + ["<any gymnax name>"],
            )
    else:
        envs.env_config(config.env.name, **config.env.overrides)
    return config
