"""metarl.agents: RL^2 recurrent actor-critics with selectable memory cores.

``ActorCritic(agent_config, obs_size, num_actions)`` with ``init_params``,
``initialize_carry``, ``step`` / ``core_step`` / ``unroll`` / ``act``; the cores
(``gru``, ``lstm``, ``mlp``, ``transformer``, ``drc``) share one step-function protocol.
"""

from metarl.agents import policy
from metarl.agents.actor_critic import ActorCritic, AgentOutput, make_core
from metarl.agents.cores import Core, GRUCore, LSTMCore, MLPCore, ParallelCore
from metarl.agents.drc import DRCCore, DRCShape
from metarl.agents.transformer import TransformerCarry, TransformerCore

__all__ = [
    "ActorCritic",
    "AgentOutput",
    "Core",
    "DRCCore",
    "DRCShape",
    "GRUCore",
    "LSTMCore",
    "MLPCore",
    "ParallelCore",
    "TransformerCarry",
    "TransformerCore",
    "make_core",
    "policy",
]
