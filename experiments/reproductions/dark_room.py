"""dark_room: does a meta-trained agent, weights frozen, earn more in later episodes of one goal?

Finding (Laskin et al. 2022, "In-context reinforcement learning with algorithm
distillation", arXiv:2210.14215, Dark Room; the same environment in Lee et al. 2023,
"Supervised pretraining can learn in-context reinforcement learning" (DPT),
arXiv:2306.14892): in a 9 x 9 room whose goal is never observed, an agent with frozen
weights earns more per 20-step episode the more episodes it has had on the same goal,
on goals it was not trained on: it explores, remembers where it was paid, and goes
back. Laskin et al. show it for Algorithm Distillation and for an RL^2 baseline as
learning curves (figures, no table to transcribe), so ``PUBLISHED`` records the
direction only.

``metarl reproduce dark_room --out DIR`` trains ``experiments/dark_room.py``'s RL^2 GRU
(A2C; ``CPU_SEEDS`` seeds vmapped) on ``dark-room-v0``: an episode of ours is one goal
for 10 trials of 20 steps from the centre (a trial is the papers' episode; the agent's
memory persists across the trials), with 64 training goals; the other 17 goals are
held out. Then ``metarl.reproduce.dark_room_curve`` plays every frozen seed, the sweep
explorer (tests one new cell per step, so it searches the room in 4 trials, then walks
a shortest path to the goal) and the random policy on the same 1024 episodes of the
held-out goals, and draws the return per trial index.

Claim (rule fixed before running):

* ``return_rises_across_episodes``: the checkpoint's paired rise, the mean return of
  the last ``LAST_TRIALS`` trials of an episode minus its first trial's, with a 95%
  interval over training seeds (``seed_stats.seed_level_interval``): lower end above
  ``MIN_RISE_FRACTION`` of the sweep explorer's expected rise on the same goals (the
  minimum effect): reproduced; lower end above 0 but not above the minimum effect:
  partly; otherwise (the interval reaches 0 or lies below it): not_reproduced.

Expected (written before the full run): a pilot (3 seeds x 30.7M env steps, 50 s) earned
111 per 10-trial episode on its training goals at the end of training (the sweep explorer
about 134, random 2.5) and, on the held-out goals, 0.13 in the first trial (below random's
0.28: it searches where the training goals were) rising to 5.65 in the tenth; rise +5.23
[+1.86, +8.60] over seeds, so reproduced, far below the explorer's 15.1 and below its own
13.8 on training goals (part of what it learned is where the training goals are). The CPU
budget (5 seeds, 2x the steps) should keep the claim and narrow the interval.
"""

import dataclasses
from pathlib import Path

from metarl.experiments import load_experiment
from metarl.interval import Interval
from metarl.reproduce import (
    CHECKPOINT,
    NOT_REPRODUCED,
    PARTLY,
    REPRODUCED,
    Claim,
    ClaimResult,
    Published,
    Reproduction,
    Setting,
)
from metarl.reproduce.dark_room_curve import LAST_TRIALS

_EXPERIMENT = load_experiment(str(Path(__file__).resolve().parents[1] / "dark_room.py"))

SETTING = "dark_room"
MIN_RISE_FRACTION = 0.1
"""The smallest rise we call learning across episodes, as a fraction of the sweep explorer's
expected rise on the same goals (about 13.7 return per trial on the 9 x 9 room)."""


def return_rises_across_episodes(measured: dict) -> ClaimResult:
    summary = measured[SETTING]
    rise = Interval.from_json(summary["rise"])
    minimum = MIN_RISE_FRACTION * float(summary["explorer_rise"])
    text = (
        f"last {summary['last_trials']} trials - first trial {rise.format('+.2f')} return per "
        f"trial over {summary['interval_unit']}; minimum effect {minimum:.2f} "
        f"({MIN_RISE_FRACTION:g} x the sweep explorer's {summary['explorer_rise']:.2f})"
    )
    if rise.above(minimum):
        return ClaimResult(REPRODUCED, text + ": lower end above the minimum effect")
    if rise.above(0.0):
        return ClaimResult(PARTLY, text + ": above 0 but not beyond the minimum effect")
    return ClaimResult(NOT_REPRODUCED, text + ": the interval reaches 0 (or has no bounds)")


CLAIMS = (
    Claim(
        "return_rises_across_episodes",
        f"held-out goals: mean return of the last {LAST_TRIALS} trials minus the first trial's, "
        f"interval over seeds: lower end above {MIN_RISE_FRACTION:g} x the sweep explorer's "
        "expected rise (reproduced), above 0 (partly), else not_reproduced",
        return_rises_across_episodes,
        setting=SETTING,
        agents=(CHECKPOINT,),
    ),
)


def setting_config(run, agent=None):
    """The dark_room experiment with ``run`` and optionally ``agent`` (the tests shrink it)."""
    return dataclasses.replace(_EXPERIMENT, agent=agent or _EXPERIMENT.agent, run=run)


CPU_SEEDS = 5
CPU_ENV_STEPS = 61_440_000
"""12,000 updates of 256 envs x 20 steps per seed: 24 chunks of 500."""
CPU_BUDGET = (
    "5 training seeds vmapped x 61.4M env steps (307M in all): about 8 min on a quiet 2-core "
    "CPU at the pilot's ~0.63M env steps/s over all seeds, plus under 1 min of evaluation"
)

REPRODUCTION = Reproduction(
    name="dark_room",
    question=(
        "Does an RL^2 agent meta-trained on Dark Room (9 x 9, goal never observed, 20-step "
        "episodes from the centre), weights frozen, earn more in later episodes of the same "
        "held-out goal than in the first?"
    ),
    source="Laskin et al. 2022, In-context Reinforcement Learning with Algorithm Distillation, "
    "arXiv:2210.14215 (Dark Room); Lee et al. 2023, DPT, arXiv:2306.14892",
    settings=(
        Setting(
            SETTING,
            "9 x 9, 10 trials of 20 steps, 64 training goals, 17 held out",
            config=setting_config(
                dataclasses.replace(
                    _EXPERIMENT.run,
                    num_seeds=CPU_SEEDS,
                    total_env_steps=CPU_ENV_STEPS,
                    updates_per_chunk=500,
                    checkpoint_every_chunks=5,
                )
            ),
        ),
    ),
    published=(
        Published(
            SETTING,
            CHECKPOINT,
            "rises across episodes",
            "qualitative: the papers' learning curves (AD and RL^2 in Laskin et al.), no table",
        ),
    ),
    claims=CLAIMS,
    measure="metarl.reproduce.dark_room_curve",
    measure_options={"episodes": 1024, "eval_seed": 2022, "greedy": False},
    budget=CPU_BUDGET,
    value_label=f"return per trial, last {LAST_TRIALS} trials - first trial",
    notes=(
        "Laskin et al.'s agent is Algorithm Distillation (a transformer trained on learning "
        "histories); this is the repo's RL^2 GRU trained with A2C, the kind of agent their RL^2 "
        "baseline is.",
        "A trial here is the papers' 20-step episode; an episode here is 10 of them on one goal.",
        "The split of 64 training and 17 held-out goals (task_seed 0) is ours.",
        "The sweep explorer is not privileged (it reads its own cell, previous action and "
        "reward); its curve is its exact expectation over the held-out goals, as is random's.",
    ),
)

POD = REPRODUCTION.resized(
    budget=(
        "GPU/pod: GRU 128, 2048 envs per seed, 5 seeds x 1B env steps; not measured here "
        "(about 4 min at an assumed 20M env steps/s), plus evaluation on 4096 episodes"
    ),
    run={
        "num_envs": 2048,
        "num_seeds": 5,
        "total_env_steps": 1_000_000_000,
        "updates_per_chunk": 500,
        "checkpoint_every_chunks": 4,
    },
    agent={"hidden_size": 128},
    measure_options={"episodes": 4096, "eval_seed": 2022, "greedy": False},
)
