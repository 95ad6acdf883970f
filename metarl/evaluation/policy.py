"""The one policy protocol: trained checkpoints and reference agents alike.

``init_carry(batch) -> carry`` and ``act(carry, inputs, key) -> (carry, action, extras)``.
The evaluation loop drives every policy the same way, on the same episodes, so
comparisons are paired (common random numbers). ``extras`` is a dict that may
expose internals for probes (hidden state, posterior statistics).

Thinking steps (optional): ``think(carry, inputs) -> carry`` is one extra step of
computation on the same inputs, taken before ``act`` (a recurrent core run once
more, a planner searching one level deeper). A policy without thinking has none
(``FunctionalPolicy.think_fn`` is None: ``think`` is the identity and
``thinks`` is False). The contract, which ``metarl.probes.thinking.with_thinking``
follows: ``think`` applies the episode-start reset itself, exactly as ``act`` would,
so the caller passes ``episode_start`` only to the first ``think`` of a step and
clears it for the later thinks and for the ``act`` that follows them (otherwise
``act`` would reset the memory the thinking just built). A policy that does not
think is driven with its inputs unchanged.
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

    def act(
        self, carry: Any, inputs: PolicyInputs, key: jax.Array
    ) -> tuple[Any, jax.Array, dict]: ...

    # Optional: ``think(carry, inputs) -> carry`` and ``thinks: bool`` (see the module docstring).


def policy_thinks(policy) -> bool:
    """Whether ``policy`` has a real ``think`` step (a protocol object without one does not)."""
    return bool(getattr(policy, "thinks", False)) and hasattr(policy, "think")


@struct.dataclass
class FunctionalPolicy:
    """A policy from pure functions (``struct`` so it can close over arrays).

    ``think_fn(carry, inputs) -> carry`` is optional; None means the policy does not
    think (``think`` is the identity).
    """

    init_carry_fn: Callable[[int], Any] = struct.field(pytree_node=False)
    act_fn: Callable[..., tuple[Any, jax.Array, dict]] = struct.field(pytree_node=False)
    num_actions: int = struct.field(pytree_node=False)
    think_fn: Callable[[Any, PolicyInputs], Any] | None = struct.field(
        pytree_node=False, default=None
    )

    @property
    def thinks(self) -> bool:
        return self.think_fn is not None

    def init_carry(self, batch: int) -> Any:
        return self.init_carry_fn(batch)

    def act(self, carry, inputs: PolicyInputs, key: jax.Array):
        return self.act_fn(carry, inputs, key)

    def think(self, carry, inputs: PolicyInputs):
        """One extra computation step on ``inputs`` (the identity for a policy that does not think)."""
        if self.think_fn is None:
            return carry
        return self.think_fn(carry, inputs)


def rescaled_rewards(policy: Policy, reward_scale: float) -> FunctionalPolicy:
    """``policy`` seeing ``prev_reward / reward_scale``: a reference told its own reward unit."""

    def act(carry, inputs: PolicyInputs, key):
        return policy.act(carry, inputs.replace(prev_reward=inputs.prev_reward / reward_scale), key)

    return FunctionalPolicy(
        init_carry_fn=policy.init_carry, act_fn=act, num_actions=policy.num_actions
    )
