"""maze_grid_gru: the GRU counterpart of ``maze_drc``, on the same maze with the layout in view.

``maze_gru`` cannot serve as the DRC's comparison: its agent sees only the 3 x 3 wall
patch around it (``maze-v0``), where the DRC sees the whole maze (``maze-grid-v0``).
This is ``maze_drc`` with only the core changed: a 64-unit GRU (as ``maze_gru``) fed
the same RL^2 input (113 numbers), the same A2C, 64 envs, 20-step rollouts and 2M
env steps (seconds of CPU at ~300k env steps/s).

Expected result: from a short check (one seed, this algorithm with its learning rate
held constant), a mean episode return rising from ~4 (random) after ~0.5M env steps to
~35 (3.5 goals per 80-step episode) by 2M; the reference the DRC's curve is read against.
"""

import dataclasses
from pathlib import Path

from metarl.config import AgentConfig
from metarl.experiments import load_experiment

MAZE_DRC = load_experiment(str(Path(__file__).with_name("maze_drc.py")))

CONFIG = dataclasses.replace(
    MAZE_DRC,
    name="maze_grid_gru",
    description=(
        "The GRU counterpart of maze_drc: a 64-unit GRU trained with A2C on 4 x 4-cell mazes "
        "with the layout in view (maze-grid-v0, horizon 80, 2M env steps)."
    ),
    agent=AgentConfig(core="gru", hidden_size=64, embed_size=0),
)
