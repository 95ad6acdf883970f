"""The one policy protocol: trained checkpoints and reference agents alike.

``init_carry(batch) -> carry`` and ``act(carry, inputs, key) -> (carry, action, extras)``.
The evaluation loop drives every policy the same way, on the same episodes, so
comparisons are paired (common random numbers). ``extras`` is a dict that may
expose internals for probes (hidden state, posterior statistics).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import jax
from flax import struct


@struct.dataclass
class PolicyInputs:
    """What an agent may see at one step (never the env's ground-truth ``info``)."""

    observation: jax.Array
    """[B, D] RL^2 observation: flat obs, one-hot previous action, previous reward, new-trial flag."""
    prev_action: jax.Array
    """[B] int32 previous action, -1 at an episode start."""
    prev_reward: jax.Array
    """[B] float32 previous reward, 0 at an episode start."""
    episode_start: jax.Array
    """[B] bool: this step begins a new episode (a new task): memory must be reset."""
    privileged_state: Any = None
    """The env state before acting (batched), or None. Trained agents never read it;
    only reference agents documented as privileged (an oracle, a planner handed the
    world model) may, and their docstrings say exactly what they read."""


class Policy(Protocol):
    num_actions: int

    def init_carry(self, batch: int) -> Any: ...

    def act(self, carry: Any, inputs: PolicyInputs, key: jax.Array) -> tuple[Any, jax.Array, dict]: ...


@struct.dataclass
class FunctionalPolicy:
    """A policy from two pure functions (``struct`` so it can close over arrays)."""

    init_carry_fn: Callable[[int], Any] = struct.field(pytree_node=False)
    act_fn: Callable[..., tuple[Any, jax.Array, dict]] = struct.field(pytree_node=False)
    num_actions: int = struct.field(pytree_node=False)

    def init_carry(self, batch: int) -> Any:
        return self.init_carry_fn(batch)

    def act(self, carry, inputs: PolicyInputs, key: jax.Array):
        return self.act_fn(carry, inputs, key)
