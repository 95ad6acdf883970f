"""The RL^2 recurrent actor-critic: embedding -> memory core -> policy and value heads.

Its input is the RL2Wrapper observation (flat obs, one-hot previous action, previous
reward, trial-boundary flag). The carry is reset to the core's initial carry when an
episode starts (``episode_start``) and kept across the trials of one episode, so what
the agent learns about the task inside an episode lives in the carry.

Params are one pytree ``{'embed', 'core', 'policy', 'value'}`` ('embed' absent when
``embed_size == 0``), so optimizers, checkpoints and probes see a single tree.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

from metarl.agents import policy
from metarl.agents.cores import Core, GRUCore, LSTMCore, MLPCore, ParallelCore, ReplayableCore
from metarl.agents.drc import DRCCore, DRCShape
from metarl.agents.transformer import TransformerCore
from metarl.config import AgentConfig


def make_core(
    name: str,
    hidden_size: int,
    *,
    transformer_heads: int = 2,
    transformer_layers: int = 1,
    transformer_context: int = 128,
    drc: DRCShape | None = None,
) -> Core:
    """Build a core by its AgentConfig name ('gru', 'lstm', 'mlp', 'transformer', 'drc';
    ``drc``: its sizes and grid, default ``DRCShape()``)."""
    if name == "gru":
        return GRUCore(hidden_size)
    if name == "lstm":
        return LSTMCore(hidden_size)
    if name == "mlp":
        return MLPCore(hidden_size)
    if name == "transformer":
        return TransformerCore(
            hidden_size, transformer_heads, transformer_layers, transformer_context
        )
    if name == "drc":
        return DRCCore(hidden_size, drc or DRCShape())
    from metarl.errors import check_choice

    check_choice("agent", "core", name, ("gru", "lstm", "mlp", "transformer", "drc"))
    raise AssertionError("unreachable")


@struct.dataclass
class AgentOutput:
    logits: jax.Array
    """[..., A] policy logits."""
    value: jax.Array
    """[...] state-value estimate."""
    hidden: jax.Array
    """[..., H] core output (what the probes read)."""


class ActorCritic:
    """Recurrent actor-critic over RL^2 inputs with a selectable memory core."""

    def __init__(self, config: AgentConfig, obs_size: int, num_actions: int):
        """``config`` is an ``AgentConfig``; ``obs_size`` the RL^2 observation width."""
        self.config = config
        self.obs_size = obs_size
        self.num_actions = num_actions
        self.core: Core = make_core(
            config.core,
            config.hidden_size,
            transformer_heads=config.transformer_heads,
            transformer_layers=config.transformer_layers,
            transformer_context=config.transformer_context,
            drc=DRCShape.from_config(config, obs_size, num_actions)
            if config.core == "drc"
            else None,
        )
        self.embed_size = config.embed_size
        self._embed = nn.Dense(config.embed_size) if config.embed_size else None
        # Small initial logits keep the first policy near uniform (PPO/A2C practice).
        self._policy_head = nn.Dense(num_actions, kernel_init=nn.initializers.orthogonal(0.01))
        self._value_head = nn.Dense(1, kernel_init=nn.initializers.orthogonal(1.0))

    @property
    def core_input_size(self) -> int:
        return self.embed_size or self.obs_size

    def init_params(self, key: jax.Array) -> dict:
        embed_key, core_key, policy_key, value_key = jax.random.split(key, 4)
        hidden = jnp.zeros((1, self.core.hidden_size))
        params = {
            "core": self.core.init(core_key, self.core_input_size),
            "policy": self._policy_head.init(policy_key, hidden)["params"],
            "value": self._value_head.init(value_key, hidden)["params"],
        }
        if self._embed is not None:
            params["embed"] = self._embed.init(embed_key, jnp.zeros((1, self.obs_size)))["params"]
        return params

    def initialize_carry(self, batch: int):
        return self.core.initialize_carry(batch)

    def embed(self, params: dict, obs: jax.Array) -> jax.Array:
        """[..., obs_size] -> [..., core_input_size]."""
        if self._embed is None:
            return obs
        return jax.nn.relu(self._embed.apply({"params": params["embed"]}, obs))

    def heads(self, params: dict, hidden: jax.Array) -> AgentOutput:
        logits = self._policy_head.apply({"params": params["policy"]}, hidden)
        value = self._value_head.apply({"params": params["value"]}, hidden)[..., 0]
        return AgentOutput(logits=logits, value=value, hidden=hidden)

    def step(self, params: dict, carry, obs: jax.Array, episode_start: jax.Array):
        """One step for a batch: obs [B, D], episode_start [B] bool -> (carry, AgentOutput [B])."""
        carry = self.core.reset(carry, episode_start)
        carry, hidden = self.core.step(params["core"], carry, self.embed(params, obs))
        return carry, self.heads(params, hidden)

    @property
    def supports_replay(self) -> bool:
        """Whether ``step_recorded``/``replay`` are available (the core is a ReplayableCore)."""
        return isinstance(self.core, ReplayableCore)

    @property
    def unrolls_in_parallel(self) -> bool:
        """Whether ``unroll`` runs all steps at once (a ParallelCore): cheaper for a loss to
        differentiate than the rollout's scanned steps."""
        return isinstance(self.core, ParallelCore)

    def step_recorded(self, params: dict, carry, obs: jax.Array, episode_start: jax.Array):
        """``step``'s computation plus the core's record of it: -> (carry, AgentOutput, record)."""
        carry = self.core.reset(carry, episode_start)
        carry, hidden, record = self.core.step_recorded(
            params["core"], carry, self.embed(params, obs)
        )
        return carry, self.heads(params, hidden), record

    def replay(
        self, params: dict, obs: jax.Array, episode_start: jax.Array, record, carry
    ) -> AgentOutput:
        """AgentOutput [T, B] of recorded steps (obs [T, B, D], record stacked [T, B, ...],
        ``carry`` the one they started from).

        Differentiable wrt ``params``, and equal to ``unroll`` from ``carry``, but only at
        the params the record was made with (see ReplayableCore).
        """
        hidden = self.core.replay(
            params["core"], self.embed(params, obs), episode_start, record, carry
        )
        return self.heads(params, hidden)

    def core_step(self, params: dict, carry, obs: jax.Array):
        """One step with no reset: repeated calls on the same obs are extra 'thinking' steps."""
        carry, hidden = self.core.step(params["core"], carry, self.embed(params, obs))
        return carry, self.heads(params, hidden)

    def unroll(self, params: dict, carry, obs: jax.Array, episode_start: jax.Array):
        """A sequence: obs [T, B, D], episode_start [T, B] -> (carry, AgentOutput [T, B])."""
        carry, hidden = self.core.unroll(
            params["core"], carry, self.embed(params, obs), episode_start
        )
        return carry, self.heads(params, hidden)

    def act(
        self,
        params: dict,
        carry,
        obs: jax.Array,
        episode_start: jax.Array,
        key: jax.Array,
        greedy: bool = False,
    ):
        """The evaluation protocol: -> (carry, action [B], extras {'logits','value','hidden'})."""
        carry, out = self.step(params, carry, obs, episode_start)
        action = policy.greedy(out.logits) if greedy else policy.sample(key, out.logits)
        return carry, action, {"logits": out.logits, "value": out.value, "hidden": out.hidden}
