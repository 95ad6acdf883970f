"""two_step_gru: is a GRU trained with A2C on the two-step task model-based?

The two-step task (Daw et al. 2011): common transition 0.8, second-stage reward
probabilities drifting as in ``two-step-v0``, 50 trials per episode (100 env steps).
The GRU sees its previous action, reward and the step fraction. It is the
checkpoint the README's two-step probe numbers come from: the ``two_step`` probe
fits the Daw hybrid to its own choices and simulates the fitted model-free model
as the reference its reward x transition index must beat.

Expected result: a model-based verdict (w's interval above the simulated model-free
fits', the index above their prediction bound), in about a minute of CPU training.
"""

import dataclasses
from pathlib import Path

from metarl.config import EnvConfig
from metarl.experiments import load_experiment

BANDIT = load_experiment(str(Path(__file__).with_name("bandit_default.py")))

CONFIG = dataclasses.replace(
    BANDIT,
    name="two_step_gru",
    description=(
        "Does an RL^2 GRU trained with A2C on the two-step task (50 trials, 6M env steps) "
        "show the model-based reward x transition interaction beyond fitted model-free agents?"
    ),
    env=EnvConfig(name="two-step-v0", overrides={"num_trials": 50}),
    run=dataclasses.replace(BANDIT.run, total_env_steps=6_000_000, updates_per_chunk=100),
)
