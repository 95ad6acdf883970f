"""The one episode player: every policy (checkpoint or reference) on the same episodes.

::

    player = Player(env, num_episodes=4096, num_steps=100)
    ref = player.play_policy(thompson_sampling(5), env_params, key)          # [T, E]
    ckpt = player.play(checkpoint_maker(agent), env_params, key,
                       policy_args=frozen.params, seeds=True)                   # [S, T, E]
    sweep = player.play(checkpoint_maker(agent), stacked_env_params, key,
                        policy_args=stacked_params, seeds=True, points=True)   # [P, S, T, E]

``make_policy(policy_args) -> Policy`` builds the policy *inside* the compiled
program from its arrays (a checkpoint's params, a hazard, a task pool), which are
arguments of that program, never constants baked into it: one compile then serves
every value of the same shapes (every training seed, every sweep point, both
conditions of a probe). A policy with no arrays is played with
``play_policy(policy, ...)`` (its maker ignores its argument).

Compiled programs are cached on the ``Player`` per (maker, ``seeds``, ``points``,
argument shapes and dtypes); the maker is keyed by identity, or by ``cache_key``
when the caller rebuilds an equivalent maker each time (``checkpoint_maker``
caches its makers for that reason). Compilation (``lower().compile()``) is timed
apart from running: ``Rollouts.compile_s`` is 0 when a cached program ran.

Axes (common random numbers throughout: the env and policy keys come from
``key`` alone):

* ``seeds=True``: ``policy_args`` leaves have a leading ``[num_seeds]`` axis; every
  seed plays the *same* episodes (``vmap`` over the params only).
* ``points=True``: ``env_params`` leaves have a leading ``[num_points]`` axis, and so
  do ``policy_args`` leaves when given (before the seed axis: ``[P, S, ...]``);
  every point plays with the same key.

``Rollouts`` holds host (numpy) arrays shaped ``[P?, S?, step, episode, ...]``:
``rewards``, ``actions``, ``info`` (the ``RECORDED_INFO`` keys the env provides),
and, when the player records them, the policy's ``extras`` (hidden state, ground
truth a probe wrapper adds) and the RL^2 ``observations``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Hashable
from typing import Any

import jax
import numpy as np

from metarl.evaluation.agent_policy import agent_policy
from metarl.evaluation.policy import Policy
from metarl.evaluation.rollout import evaluate_policy

PolicyMaker = Callable[[Any], Policy]
"""``policy_args -> Policy``: called while tracing, so ``policy_args`` are traced arrays."""


@dataclasses.dataclass(frozen=True)
class Rollouts:
    """Host arrays of one agent: ``[P?, S?, step, episode]`` (see the module docstring)."""

    rewards: np.ndarray
    actions: np.ndarray
    info: dict[str, np.ndarray]
    extras: dict[str, Any]
    """What the policy exposed per step (empty unless the player records extras)."""
    observations: np.ndarray | None
    """[..., step, episode, D] RL^2 observations (None unless the player records them)."""
    compile_s: float
    """Seconds spent lowering and compiling (0.0 when a cached program ran)."""
    run_s: float
    """Seconds the compiled program ran (to ``block_until_ready``), transfers excluded."""

    @property
    def returns(self) -> np.ndarray:
        """[..., episode] total reward."""
        return self.rewards.sum(axis=-2)

    def replace(self, **changes: Any) -> Rollouts:
        return dataclasses.replace(self, **changes)


class _Identity:
    """Hashable by identity, so unhashable policies (pytrees of arrays) can key the cache.

    Holding the object keeps it alive, so its id cannot be reused by another one.
    """

    __slots__ = ("obj",)

    def __init__(self, obj: Any):
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.obj is self.obj


def _signature(tree: Any) -> Hashable:
    """Tree structure and per-leaf (shape, dtype, weak type, sharding): what a compile fixes."""
    leaves, treedef = jax.tree.flatten(tree)

    def leaf_key(leaf):
        if isinstance(leaf, jax.Array):
            return (leaf.shape, str(leaf.dtype), leaf.weak_type, leaf.sharding)
        # numpy arrays and Python scalars: their type matters too (Python scalars are weak)
        return (np.shape(leaf), str(np.asarray(leaf).dtype), type(leaf).__name__)

    return treedef, tuple(leaf_key(leaf) for leaf in leaves)


class Player:
    """Compiled episode players for one env, episode count and length; see the module docstring.

    ``record_extras`` / ``record_observations`` apply to every program this player
    compiles (the probes record hidden states; evaluation records neither).
    """

    def __init__(
        self,
        env,
        num_episodes: int,
        num_steps: int,
        *,
        record_extras: bool = False,
        record_observations: bool = False,
    ):
        self.env = env
        """The unwrapped family env (``evaluate_policy`` adds the RL^2 inputs)."""
        self.num_episodes = int(num_episodes)
        self.num_steps = int(num_steps)
        self.record_extras = record_extras
        self.record_observations = record_observations
        self._compiled: dict[Hashable, Any] = {}

    @property
    def num_compiled(self) -> int:
        """How many programs this player has compiled (one per maker, axes and shapes)."""
        return len(self._compiled)

    def _program(self, make_policy: PolicyMaker, seeds: bool, points: bool, has_args: bool):
        env, episodes, steps = self.env, self.num_episodes, self.num_steps
        record = {
            "record_extras": self.record_extras,
            "record_observations": self.record_observations,
        }

        def one(policy_args, env_params, key):
            return evaluate_policy(
                make_policy(policy_args), env, env_params, key, episodes, steps, **record
            )

        if seeds:
            # Seeds share the episodes: only the policy's arrays are mapped.
            one = jax.vmap(one, in_axes=(0, None, None))
        if points:
            one = jax.vmap(one, in_axes=(0 if has_args else None, 0, None))
        return jax.jit(one)

    def play(
        self,
        make_policy: PolicyMaker,
        env_params,
        key: jax.Array,
        *,
        policy_args: Any = None,
        seeds: bool = False,
        points: bool = False,
        cache_key: Hashable | None = None,
    ) -> Rollouts:
        """Play ``make_policy(policy_args)`` on ``num_episodes`` episodes; host ``Rollouts``.

        ``cache_key`` names the maker in the compile cache (default: the maker itself);
        two makers given the same ``cache_key`` must build the same policy.
        """
        if seeds and policy_args is None:
            raise ValueError("seeds=True needs policy_args with a leading seed axis")
        has_args = policy_args is not None
        maker_key = _Identity(make_policy) if cache_key is None else cache_key
        args = (policy_args, env_params, key)
        entry = (maker_key, seeds, points, _signature(args))
        compile_s = 0.0
        compiled = self._compiled.get(entry)
        if compiled is None:
            start = time.perf_counter()
            program = self._program(make_policy, seeds, points, has_args)
            compiled = program.lower(*args).compile()
            compile_s = time.perf_counter() - start
            self._compiled[entry] = compiled
        start = time.perf_counter()
        batch = jax.block_until_ready(compiled(*args))
        run_s = time.perf_counter() - start
        host = jax.device_get(batch)
        return Rollouts(
            rewards=np.asarray(host.rewards),
            actions=np.asarray(host.actions),
            info={name: np.asarray(value) for name, value in host.info.items()},
            extras=host.extras,
            observations=None if host.observations is None else np.asarray(host.observations),
            compile_s=compile_s,
            run_s=run_s,
        )

    def play_policy(
        self, policy: Policy, env_params, key: jax.Array, *, points: bool = False
    ) -> Rollouts:
        """A policy with no arrays of its own (a reference agent); compiled once per policy."""
        return self.play(
            lambda _: policy,
            env_params,
            key,
            points=points,
            cache_key=("policy", _Identity(policy)),
        )


_CHECKPOINT_MAKERS: dict[Hashable, PolicyMaker] = {}


def checkpoint_maker(agent, greedy: bool = False) -> PolicyMaker:
    """``params -> agent_policy(agent, params, greedy)``, one maker per architecture.

    An ``ActorCritic`` is fully determined by (its ``AgentConfig``, observation size,
    action count), so two agents built from the same config (two sweep points, two
    loads of one run) get the same maker object back, and a ``Player`` reuses its
    compiled program for them.
    """
    key = (agent.config, int(agent.obs_size), int(agent.num_actions), bool(greedy))
    if key not in _CHECKPOINT_MAKERS:
        _CHECKPOINT_MAKERS[key] = lambda params: agent_policy(agent, params, greedy=greedy)
    return _CHECKPOINT_MAKERS[key]
