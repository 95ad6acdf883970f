"""metarl.training: compiled A2C/PPO training of the RL^2 agents.

``make_trainer(config, mesh=None) -> Trainer`` with ``init(key)``,
``train_chunk(state)``, ``abstract_state()`` and ``updates_done(state)``; the
train state is one named ``TrainState``. Losses are rlax-style in ``losses``.
"""

from metarl.training import losses
from metarl.training.sharding import make_mesh
from metarl.training.state import TrainState
from metarl.training.trainer import Trainer, make_trainer, updates_done

__all__ = ["Trainer", "TrainState", "losses", "make_mesh", "make_trainer", "updates_done"]
