"""maze_gru: does a GRU trained with A2C on small mazes plan, or follow a local heuristic?

Perfect mazes of 4 x 4 cells (a 9 x 9 grid), goal hidden and kept across trials of
an 80-step episode: after finding the goal the agent respawns and can walk straight
back. It is the checkpoint the README's maze probe numbers come from (``difficulty``,
``decoding``, ``thinking``) at a small CPU budget (6M env steps).

Expected result: at this budget, later trials well above random but not near the
shortest path; the probes are expected to say ``undecided`` rather than a verdict.
"""

import dataclasses
from pathlib import Path

from metarl.config import EnvConfig
from metarl.experiments import load_experiment

BANDIT = load_experiment(str(Path(__file__).with_name("bandit_default.py")))

CONFIG = dataclasses.replace(
    BANDIT,
    name="maze_gru",
    description=(
        "Does an RL^2 GRU trained with A2C on 4 x 4-cell mazes (horizon 80, 6M env steps) "
        "walk back to a found goal like a planner or like a local heuristic?"
    ),
    env=EnvConfig(name="maze-v0", overrides={"cells_per_side": 4, "horizon": 80}),
    run=dataclasses.replace(BANDIT.run, total_env_steps=6_000_000, updates_per_chunk=100),
)
