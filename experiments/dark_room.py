"""dark_room: does an RL^2 GRU, weights frozen, earn more in later trials of the same hidden goal?

Dark Room (Laskin et al. 2022, "In-context reinforcement learning with algorithm
distillation"; Lee et al. 2023, DPT): a 9 x 9 open room, the agent starts every trial
on the centre and sees only its own cell; one cell is the goal, never seen, paying 1
on every step the agent stands on it. A task (one goal) lasts 10 trials of 20 steps
(the papers' 20-step episodes), and the agent's memory persists across them: to earn
more in later trials it must search, remember where it was paid, and walk back.
Training uses 64 of the 81 goals (``task_seed`` 0); the other 17 are held out
(``split='held_out'``) for evaluation, so a rise there is in-context learning, not
memory of the training goals.

The agent and A2C settings are ``bandit_default``'s (GRU 64, inputs fed straight in),
with gamma ``GAMMA``: a goal found late in one trial pays in the next, 20 steps on.

Expected result: return per trial rising from near the random policy's (0.25 on
average over the room) in the first trial toward the sweep explorer's (2.6 in the
first trial, 16.5 once it has searched the room by the fifth); well short of the
explorer at a CPU budget. A pilot (3 seeds x 30.7M env steps, 50 s at ~0.63M env
steps/s over the seeds) reached 111 per 10-trial episode on training goals (explorer
about 134) and rose from 0.13 to 5.65 per trial on the held-out goals. 20M env steps
(this file's budget, 1 seed) take about 35 s.
"""

import dataclasses
from pathlib import Path

from metarl.config import EnvConfig
from metarl.experiments import load_experiment

BANDIT = load_experiment(str(Path(__file__).with_name("bandit_default.py")))

TRAIN_GOALS = 64
"""Training goals of the 81; the other 17 are the held-out goals."""
GAMMA = 0.95

CONFIG = dataclasses.replace(
    BANDIT,
    name="dark_room",
    description=(
        "Does an RL^2 GRU trained with A2C on Dark Room (9 x 9, hidden goal, 10 trials of 20 "
        "steps per goal, 64 training goals) earn more in later trials of a held-out goal?"
    ),
    env=EnvConfig(name="dark-room-v0", overrides={"num_tasks": TRAIN_GOALS}),
    algo=dataclasses.replace(BANDIT.algo, gamma=GAMMA),
    run=dataclasses.replace(
        BANDIT.run, total_env_steps=20_000_000, updates_per_chunk=100, checkpoint_every_chunks=5
    ),
)
