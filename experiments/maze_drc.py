"""maze_drc: with the maze in view, does a DRC(3, 3) trained with A2C plan its way back to a found goal?

The maze search task of ``maze_gru`` (perfect mazes of 4 x 4 cells, a hidden goal kept
across the trials of an 80-step episode, respawn after each find) on ``maze-grid-v0``,
which adds the whole layout to the observation (the 3 x 3 view bits, then the 7 x 7
interior as wall and agent channels), so that a convolutional planner has something
to plan over. The agent is Guez et al. (2019)'s Deep Repeated ConvLSTM, DRC(3, 3): 3
ConvLSTM layers, 3 ticks per env step, encoder, pool-and-inject and skip connections
(``metarl.agents.drc``); the RL^2 previous action, reward and trial flag enter as
constant planes beside the grid. ``maze_grid_gru`` is its counterpart: the same env,
algorithm and budget with a GRU core.

Width and budget, set by CPU speed. DRC(3, 3) costs ~5 GFLOP per 64 env steps forward
at the paper's 32 channels (the 3 x 3 convolutions over the 7 x 7 grid, 9 layer passes
per step), and A2C differentiates through the rollout. Measured A2C training speed at
64 envs and 20-step rollouts on a 2-core CPU shared with other jobs (load average
~8): GRU 270-310k env steps/s; DRC(3, 3) at 32 channels and a 256-unit MLP (869k
params) 76 env steps/s; at 16 channels and 128 units (220k params) 184 env steps/s
(130-150 over a 77k-step check at load ~9, loss finite, entropy still ln 4).
This experiment takes the 16-channel width (the grid has only 2 input channels) and
2M env steps: 3-4 hours at those speeds, less on an unloaded machine. The GRU with
the map in view, at this algorithm's learning rate held constant, started to improve
after ~0.5M env steps and reached a mean episode return of ~35 (3.5 goals per 80-step
episode) by 2M (a short check, one seed), so 2M steps is about the least at which the
comparison says something.

The algorithm is ``bandit_default``'s A2C (learning rate 3e-3 decaying linearly,
entropy 0.05 decaying to 0, gamma 0.9), untuned for the DRC.

Expected result: unknown; this is the run that finds out whether the DRC learns this
task at a CPU budget, and whether its thinking steps (the ``thinking`` probe: each
extra step is 3 more ticks on the same observation) raise the return.
"""

import dataclasses
from pathlib import Path

from metarl.config import AgentConfig, EnvConfig
from metarl.experiments import load_experiment

BANDIT = load_experiment(str(Path(__file__).with_name("bandit_default.py")))

CONFIG = dataclasses.replace(
    BANDIT,
    name="maze_drc",
    description=(
        "Does a DRC(3, 3) (16 channels) trained with A2C on 4 x 4-cell mazes with the layout "
        "in view (maze-grid-v0, horizon 80, 2M env steps) find and return to a hidden goal, "
        "and do extra thinking ticks help?"
    ),
    env=EnvConfig(name="maze-grid-v0", overrides={"cells_per_side": 4, "horizon": 80}),
    agent=AgentConfig(
        core="drc",
        hidden_size=128,
        embed_size=0,
        drc_depth=3,
        drc_ticks=3,
        drc_channels=16,
        drc_input_channels=2,
    ),
    # 64 envs x 20 steps = 1280 env steps per update; a chunk of 20 updates is ~2-3 minutes.
    run=dataclasses.replace(
        BANDIT.run,
        num_envs=64,
        rollout_length=20,
        total_env_steps=2_000_000,
        updates_per_chunk=20,
        checkpoint_every_chunks=5,
    ),
)
