"""The compiled training program: ``make_trainer(config) -> Trainer``.

``Trainer.init(key)`` builds the whole train state for every seed; ``train_chunk``
is one jitted SPMD program that runs ``run.updates_per_chunk`` updates (rollout,
advantages, epochs, minibatches, all under ``lax.scan``) for all seeds at once
(``vmap`` over seeds, so an 8-seed run is one compile). The host only calls
``train_chunk`` and logs/checkpoints between chunks.

Seeds: seed i trains from ``fold_in(key, i)``; every leaf of the state has a leading
``[num_seeds]`` axis. Devices: the env axis is sharded over the mesh's ``'data'``
axis, parameters are replicated (see ``metarl.training.sharding``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from metarl.config import ExperimentConfig, validate
from metarl.errors import ConfigError
from metarl.training import sharding
from metarl.training.a2c import make_a2c_update
from metarl.training.build import build
from metarl.training.ppo import make_ppo_update
from metarl.training.rollout import env_reports_regret
from metarl.training.state import TrainState
from metarl.training.update import make_optimizer

# env_steps is reported as int32 (64-bit integers are off in JAX by default).
_MAX_ENV_STEPS = 2**31 - 1


def _raw_key(key: jax.Array) -> jax.Array:
    """Typed keys (jax.random.key) become uint32 key data so the state checkpoints as plain arrays."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(key)
    return key


class Trainer:
    """Compiled multi-seed training for one ExperimentConfig. Build with ``make_trainer``."""

    def __init__(
        self,
        config: ExperimentConfig,
        mesh: jax.sharding.Mesh | None = None,
        *,
        env_params: Any = None,
        env_params_per_seed: bool = False,
    ):
        self.config = validate(config)
        run, algo = config.run, config.algo
        # env_params: a hand-built task pool (tests, probes, sweeps) instead of the config's own.
        # env_params_per_seed: its leaves carry a leading [num_seeds] axis, one env (task
        # pool, pool seed) per seed: how a sweep trains many points in one program.
        self.env_params_per_seed = env_params_per_seed
        one_params = None
        if env_params is not None:
            one_params = (
                jax.tree.map(lambda x: x[0], env_params) if env_params_per_seed else env_params
            )
        built = build(config, one_params)
        self.env = built.env
        self.env_params = built.env_params if env_params is None else env_params
        self.obs_size = built.obs_size
        self.num_actions = built.num_actions
        self.agent = built.agent
        self._params_axis = 0 if env_params_per_seed else None

        self.mesh = mesh if mesh is not None else sharding.make_mesh()
        sharding.check_divisible(run.num_envs, self.mesh)
        self.num_updates = run.num_updates
        self.steps_per_update = run.num_envs * run.rollout_length
        # The runner runs whole chunks, so up to updates_per_chunk - 1 updates past num_updates.
        if (self.num_updates + run.updates_per_chunk) * self.steps_per_update > _MAX_ENV_STEPS:
            raise ConfigError(
                f"config: field 'run.total_env_steps' = {run.total_env_steps} is out of range; "
                f"allowed: at most {_MAX_ENV_STEPS} env steps per seed (int32 step counter)"
            )
        grad_steps_per_update = (
            1 if algo.name == "a2c" else algo.update_epochs * algo.num_minibatches
        )
        self.optimizer = make_optimizer(algo, self.num_updates, grad_steps_per_update)
        self.reports_regret = env_reports_regret(built.env, built.env_params, self.num_actions)
        make_update = make_a2c_update if algo.name == "a2c" else make_ppo_update
        self._update = make_update(
            self.agent, self.env, config, self.optimizer, self.reports_regret
        )

        seed_keys = jax.ShapeDtypeStruct((run.num_seeds, 2), jnp.uint32)
        abstract = jax.eval_shape(self._init_all_seeds, seed_keys, self.env_params)
        self.state_shardings = sharding.train_state_shardings(abstract, self.mesh)
        self._abstract_state = jax.tree.map(
            lambda leaf, s: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=s),
            abstract,
            self.state_shardings,
        )
        replicated = sharding.replicated(self.mesh)
        self._init = jax.jit(
            self._init_all_seeds,
            in_shardings=(replicated, replicated),
            out_shardings=self.state_shardings,
        )
        self._chunk = jax.jit(
            self._run_chunk,
            in_shardings=(self.state_shardings, replicated),
            out_shardings=(self.state_shardings, replicated),
        )

    # ------------------------------------------------------------------ pure functions

    def _init_one_seed(self, key: jax.Array, env_params: Any) -> TrainState:
        num_envs = self.config.run.num_envs
        params_key, env_key, rng = jax.random.split(key, 3)
        params = self.agent.init_params(params_key)
        obs, env_state = jax.vmap(self.env.reset, in_axes=(0, None))(
            jax.random.split(env_key, num_envs), env_params
        )
        return TrainState(
            params=params,
            opt_state=self.optimizer.init(params),
            rng=rng,
            update_step=jnp.int32(0),
            env_state=env_state,
            obs=obs,
            carry=self.agent.initialize_carry(num_envs),
            episode_start=jnp.ones((num_envs,), bool),
            episode_return=jnp.zeros((num_envs,), jnp.float32),
            last_episode_return=jnp.float32(0.0),
        )

    def _init_all_seeds(self, seed_keys: jax.Array, env_params: Any) -> TrainState:
        return jax.vmap(self._init_one_seed, in_axes=(0, self._params_axis))(seed_keys, env_params)

    def _run_chunk(
        self, state: TrainState, env_params: Any
    ) -> tuple[TrainState, dict[str, jax.Array]]:
        def one_seed(seed_state, seed_env_params):
            return jax.lax.scan(
                lambda s, _: self._update(s, seed_env_params),
                seed_state,
                None,
                length=self.config.run.updates_per_chunk,
            )

        return jax.vmap(one_seed, in_axes=(0, self._params_axis))(state, env_params)

    # ------------------------------------------------------------------ host API

    def seed_keys(self, key: jax.Array) -> jax.Array:
        """[num_seeds, 2] uint32: seed i trains from ``fold_in(key, i)``."""
        key = _raw_key(key)
        return jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(self.config.run.num_seeds))

    def init(self, key: jax.Array) -> TrainState:
        """The initial state of every seed (seed i from fold_in(key, i)), sharded on the mesh."""
        return self.init_from_seed_keys(self.seed_keys(key))

    def init_from_seed_keys(self, seed_keys: jax.Array) -> TrainState:
        """The initial state from explicit per-seed keys ([num_seeds, 2] uint32)."""
        return self._init(jnp.asarray(seed_keys, jnp.uint32), self.env_params)

    def train_chunk(
        self, state: TrainState, env_params: Any = None
    ) -> tuple[TrainState, dict[str, jax.Array]]:
        """Run run.updates_per_chunk updates for all seeds in one device call.

        ``env_params`` (default: the trainer's own) is an argument of the compiled
        chunk, so params of the same shapes (another task pool, pool seed, hazard)
        reuse the compiled program.

        Metrics are [num_seeds, updates_per_chunk]: mean_episode_return,
        mean_regret_per_step (envs that report regret), policy_loss, value_loss,
        entropy, total_loss, grad_norm, env_steps (cumulative per seed),
        episodes_completed and loss_is_finite (an update with a non-finite loss or
        gradient is skipped, so the state stays finite and the runner can stop there).
        """
        return self._chunk(state, self.env_params if env_params is None else env_params)

    def lower_chunk(self, state: TrainState):
        """``jax.jit(...).lower`` of the chunk (call the compiled result with
        ``(state, trainer.env_params)``), e.g. to time ``.compile()`` apart from running."""
        return self._chunk.lower(state, self.env_params)

    def abstract_state(self) -> TrainState:
        """Shapes, dtypes and shardings of ``init``'s result (an orbax restore target)."""
        return self._abstract_state

    @staticmethod
    def updates_done(state: TrainState) -> int:
        """Updates completed so far (all seeds advance together)."""
        return int(np.asarray(jax.device_get(state.update_step)).reshape(-1)[0])


def make_trainer(
    config: ExperimentConfig,
    mesh: jax.sharding.Mesh | None = None,
    *,
    env_params: Any = None,
    env_params_per_seed: bool = False,
) -> Trainer:
    """Validate ``config`` and build its compiled trainer (mesh: all devices when None).

    ``env_params`` replaces the params ``metarl.envs.make`` builds from ``config.env``
    (e.g. a hand-made task pool); it must come from the same env name. With
    ``env_params_per_seed`` its leaves have a leading ``[run.num_seeds]`` axis and
    seed i trains on its own params (a vmapped sweep).
    """
    return Trainer(config, mesh, env_params=env_params, env_params_per_seed=env_params_per_seed)


def updates_done(state: TrainState) -> int:
    return Trainer.updates_done(state)
