"""Task-diversity sweep: train at N = 1, 4, 16, 64, 256, inf tasks; evaluate held out; plot.

::

    python scripts/sweep_task_diversity.py --out runs/sweep
    python scripts/sweep_task_diversity.py --out runs/sweep --num-tasks 1,16,inf \\
        --total-env-steps 10000000 --episodes 2048 --set algo.learning_rate=0.002
    python scripts/sweep_task_diversity.py --out runs/sweep --plot-only   # redraw from the summary

For every N of ``--num-tasks`` (default: ``SWEEP_NUM_TASKS`` of the experiment,
``experiments/task_diversity.py``), in order:

1. **train** the experiment with ``env.overrides.num_tasks = N`` into
   ``<out>/N<N>/`` (``<out>/Ninf/`` for infinitely many tasks) with
   ``metarl.runner.train_loop.train``. Resumable: a finished run (its latest
   checkpoint at the last update) is skipped, a killed one resumes from its latest
   checkpoint (bit-identical on CPU), and a run dir trained with other settings is
   refused (the message names the differing fields), never overwritten.
2. **evaluate** the frozen checkpoint (sampled actions) on the *held-out* tasks
   (``split="held_out"``: the experiment's 1024 held-out arm-mean vectors; with the
   same ``task_seed`` the held-out pool is the same for every N, checked through its
   fingerprint, and with the same key every N plays the same episodes) beside
   Thompson sampling, the random policy and the task locator over the N training
   tasks, all on the same episodes (common random numbers); and on its *training*
   tasks beside Thompson sampling (for the return gap). The result is cached in ``<out>/N<N>/task_diversity_eval.json``, keyed
   by checkpoint update, episodes and seed.
3. the **likelihood comparison** (``metarl.probes.likelihood.compare_learner_vs_locator``)
   of the agent's held-out choices: Bayes learner - locator over the N training
   tasks, per choice, two-fold cross-validated, 95% interval over episodes; the
   same comparison of Thompson sampling's and the locator's own choices calibrates
   it (they should read 'learner' and 'locator'). N = inf has no training set: the
   locator there is a **stand-in**, the pool the N = 256 run trained on (256 prior
   draws with the same ``task_seed``; ``likelihood.stand_in`` says so), which the
   inf agent never saw as a set: it tells what the comparison reads for a 256-task
   memory that the agent cannot have located.

Then ``<out>/sweep_summary.json`` and ``<out>/task_diversity.{png,pdf}``: x = N on a
log axis with inf at the right; panels: held-out in-context improvement (agent,
Thompson sampling, locator), held-out mean return, training - held-out return gap
(agent and Thompson sampling, whose gap only reflects how easy the training tasks
are), and the likelihood difference with its interval and the zero line.

**Why the N values train one after another, not vmapped.** The trainer vmaps
seeds, but closes over its env params (the task pool) as compile-time constants,
and pools of different N have different shapes ([N, k]; infinite: no pool).
Tiling each pool to 256 rows (N divides 256, so uniform draws from the tiled pool
are uniform over the N tasks) would give the finite N one shape, but vmapping them
needs per-seed env params in ``metarl/training/trainer.py``, which this script
does not change. It would not be faster here either: on the 2-core CPU, 2 seeds
vmapped in one program trained 2 x 4.1M env steps in 47.7 s against 23.2 s for
one seed (about 350k vs 400k env steps/s in all: the cores are already busy).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EXPERIMENT = REPO_ROOT / "experiments" / "task_diversity.py"
SUMMARY_FILE = "sweep_summary.json"
FIGURE_NAME = "task_diversity"
EVAL_FILE = "task_diversity_eval.json"
FORMAT_VERSION = 1
INF_LABEL = "inf"
STAND_IN_POOL_SIZE = 256
"""N = inf: the likelihood's locator uses the training pool of this many prior draws (same task_seed)."""
DEFAULT_EPISODES = 2048
DEFAULT_EVAL_SEED = 0
AGENT = "checkpoint"
THOMPSON = "thompson_sampling"
LOCATOR = "task_locator"
RANDOM = "random"


def log_stderr(message: str) -> None:
    sys.stderr.write(f"sweep: {message}\n")
    sys.stderr.flush()


# ------------------------------------------------------------------------- the sweep
def label(num_tasks: int | None) -> str:
    """'16', or 'inf' for infinitely many tasks."""
    return INF_LABEL if num_tasks is None else str(num_tasks)


def run_dir_name(num_tasks: int | None) -> str:
    return f"N{label(num_tasks)}"


def parse_num_tasks_list(text: str) -> tuple[int | None, ...]:
    """'1,4,16,inf' -> (1, 4, 16, None); ValueError naming the bad item."""
    values: list[int | None] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item.lower() in ("inf", "infinite", "none"):
            values.append(None)
        elif item.isdigit() and int(item) >= 1:
            values.append(int(item))
        else:
            raise ValueError(
                f"--num-tasks item {item!r}: allowed values are integers >= 1 and 'inf'"
            )
    if not values:
        raise ValueError("--num-tasks is empty; e.g. 1,4,16,64,256,inf")
    if len(set(values)) != len(values):
        raise ValueError(f"--num-tasks {text!r} repeats a value")
    return tuple(values)


def load_sweep_values(experiment: Path) -> tuple[int | None, ...]:
    """The experiment module's ``SWEEP_NUM_TASKS`` (ValueError if it has none)."""
    spec = importlib.util.spec_from_file_location(f"metarl_sweep_{experiment.stem}", experiment)
    if spec is None or spec.loader is None:
        raise ValueError(f"experiment {str(experiment)!r} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    values = getattr(module, "SWEEP_NUM_TASKS", None)
    if values is None:
        raise ValueError(
            f"experiment {str(experiment)!r} defines no SWEEP_NUM_TASKS; pass --num-tasks"
        )
    return tuple(values)


def point_config(
    experiment: Path, num_tasks: int | None, sets: Sequence[str], total_env_steps: int | None
):
    """The experiment config of one sweep point: ``--set`` values, then the step budget and N."""
    from metarl.experiments import resolve

    if any(s.split("=", 1)[0].strip() == "env.overrides.num_tasks" for s in sets):
        raise ValueError("--set env.overrides.num_tasks is what the sweep varies; use --num-tasks")
    extra = [f"run.total_env_steps={total_env_steps}"] if total_env_steps is not None else []
    # "none" is the config's word for infinitely many tasks (num_tasks: int | None).
    extra.append(f"env.overrides.num_tasks={'none' if num_tasks is None else num_tasks}")
    config = resolve(str(experiment), [*sets, *extra], build_env=False)
    from metarl import envs
    from metarl.evaluation.suites import env_family

    # The locator, Thompson sampling and the likelihood probe are Bernoulli-bandit models.
    if (
        env_family(config.env.name) != "bandit"
        or envs.env_config(config.env.name, **config.env.overrides).reward_type != "bernoulli"
    ):
        raise ValueError(
            f"the task-diversity sweep needs a Bernoulli bandit, got env {config.env.name!r}"
        )
    return config


def _quiet_checkpointer(run_dir: Path, config):
    """A read-only Checkpointer (orbax's 'read-only manager does not save' warning muted)."""
    import logging

    from metarl.runner.checkpointing import Checkpointer

    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        return Checkpointer(run_dir / "checkpoints", config, read_only=True)
    finally:
        absl_logger.setLevel(level)


def training_status(config, run_dir: Path) -> tuple[str, int]:
    """('fresh' | 'partial' | 'finished', latest checkpoint update or 0).

    Raises RunDirError if ``run_dir`` holds a run of another config (the fields named).
    """
    from metarl.runner.run_dir import RunDir
    from metarl.runner.train_loop import total_updates

    directory = RunDir(run_dir)
    if not directory.exists_nonempty():
        return "fresh", 0
    directory.check_resumable(config)
    if not directory.checkpoint_dir.is_dir():
        return "partial", 0
    checkpointer = _quiet_checkpointer(directory.root, config)
    try:
        latest = checkpointer.latest_step() or 0
    finally:
        checkpointer.close()
    return ("finished" if latest >= total_updates(config) else "partial"), int(latest)


def train_point(config, run_dir: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """Train (fresh or resumed) or skip one sweep point; what was done and how long it took."""
    from metarl.runner.train_loop import env_steps_per_update, total_updates, train

    status, latest = training_status(config, run_dir)
    end = total_updates(config)
    if status == "finished":
        log(f"  training: finished earlier (checkpoint at update {latest}/{end}), skipped")
        return {
            "status": "finished earlier",
            "seconds": 0.0,
            "trained_env_steps": 0,
            "update": latest,
        }
    start = time.perf_counter()
    result = train(config, run_dir, resume=status == "partial")
    seconds = time.perf_counter() - start
    trained = (
        (result.update - result.start_update) * env_steps_per_update(config) * config.run.num_seeds
    )
    done = f"resumed from update {result.start_update}" if status == "partial" else "trained"
    log(f"  training: {done} to update {result.update}/{end} in {seconds:.0f} s")
    return {
        "status": done,
        "seconds": seconds,
        "trained_env_steps": trained,
        "update": result.update,
    }


# ------------------------------------------------------------------------ evaluation
class Players:
    """Jitted episode players, one compile per (role, shapes): reused across sweep points.

    Every player takes ``(policy_args, env_params, key)``; ``env`` is shared (a bandit
    env object only holds ``num_arms``; the tasks live in ``env_params``), so the
    held-out players compile once for the whole sweep.
    """

    def __init__(self, env, num_episodes: int, num_steps: int):
        self.env = env
        self.num_episodes = num_episodes
        self.num_steps = num_steps
        self._jitted: dict[Any, Callable] = {}

    def _play(self, key_, make_policy: Callable[..., Any], over_seeds: bool = False) -> Callable:
        import jax

        from metarl.evaluation.rollout import evaluate_policy

        if key_ not in self._jitted:
            env, num_episodes, num_steps = self.env, self.num_episodes, self.num_steps

            def play(policy_args, env_params, key):
                def one(args):
                    return evaluate_policy(
                        make_policy(args), env, env_params, key, num_episodes, num_steps
                    )

                return jax.vmap(one)(policy_args) if over_seeds else one(policy_args)

            self._jitted[key_] = jax.jit(play)
        return self._jitted[key_]

    def play(
        self, role: str, env_params, key, policy_args=None, agent=None
    ) -> dict[str, np.ndarray]:
        """Host arrays of one agent: actions, rewards, regret, optimal action [T, E] ([S, T, E] for the agent)."""
        import jax

        from metarl.evaluation.agent_policy import agent_policy
        from metarl.evaluation.baselines import random_policy, task_locator, thompson_sampling

        num_arms = int(env_params.num_arms)
        if role == AGENT:
            # Same architecture for every N: one compile, params are an argument.
            fn = self._play(
                (role, repr(agent.config), agent.obs_size, agent.num_actions),
                lambda params: agent_policy(agent, params),
                over_seeds=True,
            )
        elif role == THOMPSON:
            fn = self._play((role, num_arms), lambda _: thompson_sampling(num_arms))
        elif role == RANDOM:
            fn = self._play((role, num_arms), lambda _: random_policy(num_arms))
        elif role == LOCATOR:
            fn = self._play((role, num_arms), lambda means: task_locator(means, "greedy"))
        else:
            raise ValueError(f"unknown role {role!r}")
        batch = jax.device_get(
            fn(policy_args if policy_args is not None else np.zeros(()), env_params, key)
        )
        info = batch.info
        return {
            "actions": np.asarray(batch.actions),
            "rewards": np.asarray(batch.rewards, np.float64),
            "regret": np.asarray(info["regret"], np.float64),
            "optimal": (np.asarray(batch.actions) == np.asarray(info["optimal_action"])).astype(
                np.float64
            ),
            "oracle": np.asarray(info["optimal_expected_reward"], np.float64),
        }


def pool_fingerprint(means) -> str:
    """Short sha1 of a task pool's means [N, k] (float32 bytes): equal pools, equal prints."""
    return hashlib.sha1(np.ascontiguousarray(np.asarray(means, np.float32)).tobytes()).hexdigest()[
        :16
    ]


def _interval(mean: float, low: float, high: float) -> dict[str, Any]:
    return {"mean": mean, "ci95": [low, high]}


def split_statistics(
    rollouts: dict[str, dict[str, np.ndarray]], counts: np.ndarray
) -> dict[str, Any]:
    """Per agent on one episode set: total reward, regret, P(optimal), in-context improvement.

    ``rollouts[name]`` arrays are [T, E] ([S, T, E] for the agent: seeds averaged per
    episode). Means with 95% percentile-bootstrap intervals over episodes (``counts``
    shared by every agent, so paired differences are paired); the in-context
    improvement is ``metarl.evaluation.metrics.in_context_improvement`` against this
    episode set's oracle and random levels, so it needs ``rollouts["random"]`` (left
    out without it).
    """
    from metarl.evaluation import metrics
    from metarl.evaluation import statistics as st

    def pooled(array):
        return array.mean(axis=0) if array.ndim == 3 else array

    any_agent = next(iter(rollouts.values()))
    num_steps, num_episodes = any_agent["rewards"].shape[-2:]
    oracle_level = float(any_agent["oracle"].mean())  # the oracle does not depend on the agent
    random_level = float(rollouts[RANDOM]["rewards"].mean()) if RANDOM in rollouts else None
    early, late = metrics.default_windows(num_steps)
    per_episode: dict[str, dict[str, np.ndarray]] = {}
    agents: dict[str, Any] = {}
    for name, arrays in rollouts.items():
        rewards = pooled(arrays["rewards"])
        values = {
            "total_reward": rewards.sum(axis=0),
            "total_regret": pooled(arrays["regret"]).sum(axis=0),
            "optimal_action_rate": pooled(arrays["optimal"]).mean(axis=0),
        }
        if random_level is not None and oracle_level != random_level:
            values["in_context_improvement"] = metrics.in_context_improvement(
                rewards, oracle_level, random_level, early, late
            )
        per_episode[name] = values
        agents[name] = {key: _interval(*st.bootstrap_mean(v, counts)) for key, v in values.items()}
    for other in (THOMPSON, LOCATOR):
        if other in per_episode:
            agents[AGENT][f"minus_{other}"] = {
                key: _interval(
                    *st.bootstrap_mean(per_episode[AGENT][key] - per_episode[other][key], counts)
                )
                for key in ("total_reward", "in_context_improvement")
                if key in per_episode[AGENT]
            }
    return {
        "episodes": int(num_episodes),
        "oracle_reward_per_step": oracle_level,
        "random_reward_per_step": random_level,
        "early_window": list(early),
        "late_window": list(late),
        "agents": agents,
    }


def _gap(train_stats: dict, held_out_stats: dict, name: str) -> dict[str, Any]:
    """Training - held-out mean total reward of one agent (independent episode sets)."""
    return _difference_of_intervals(
        train_stats["agents"][name]["total_reward"], held_out_stats["agents"][name]["total_reward"]
    )


def _likelihood(actions, rewards, locator_means, reward_scale: float, seed: int) -> dict[str, Any]:
    from metarl.probes.likelihood import compare_learner_vs_locator

    # The probe's Bayes learner counts Bernoulli successes: rewards must be 0/1.
    comparison = compare_learner_vs_locator(
        actions, np.asarray(rewards) / reward_scale, locator_means, seed=seed
    )
    return comparison.summary()


def evaluate_point(
    config,
    run_dir: Path,
    num_tasks: int | None,
    *,
    checkpoint_update: int,
    episodes: int,
    eval_seed: int,
    stand_in_means: np.ndarray | None,
    players_cache: dict,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Held-out and training-task evaluation of one finished run (cached in its run dir).

    ``checkpoint_update`` is the run's latest checkpoint (``train_point``'s ``update``):
    the cache is checked against it before anything is restored or compiled.
    """
    import jax

    from metarl import envs
    from metarl.evaluation import statistics as st
    from metarl.evaluation.run_eval import load_frozen_run
    from metarl.runner.run_dir import write_json_atomic

    cache_key = {
        "format_version": FORMAT_VERSION,
        "checkpoint_update": int(checkpoint_update),
        "episodes": episodes,
        "eval_seed": eval_seed,
        "stand_in_pool_size": STAND_IN_POOL_SIZE if num_tasks is None else None,
    }
    cache_path = run_dir / EVAL_FILE
    if cache_path.is_file():
        try:
            cached = json.loads(cache_path.read_text())
            if cached.get("cache_key") == cache_key:
                log(
                    f"  evaluation: cached in {cache_path.name} (update {checkpoint_update}), reused"
                )
                return {**cached, "eval_status": "cached"}
        except ValueError:
            pass  # unreadable: evaluate again and overwrite
    start = time.perf_counter()
    frozen = load_frozen_run(run_dir, "latest")
    if frozen.step != checkpoint_update:
        raise ValueError(
            f"{run_dir}: latest checkpoint is update {frozen.step}, expected {checkpoint_update}"
        )
    overrides = dict(config.env.overrides)
    train_env, train_params = envs.make(config.env.name, **overrides)
    held_env, held_params = envs.make(config.env.name, **{**overrides, "split": "held_out"})
    num_steps = int(held_params.max_steps_in_episode)
    reward_scale = float(held_params.reward_scale)
    players_key = (config.env.name, int(held_params.num_arms), episodes, num_steps)
    if players_key not in players_cache:
        players_cache[players_key] = Players(held_env, episodes, num_steps)
    players = players_cache[players_key]
    training_means = (
        None if train_params.task_pool is None else np.asarray(train_params.task_pool.means)
    )
    locator_means = training_means if training_means is not None else stand_in_means
    key = jax.random.PRNGKey(eval_seed)
    counts = st.bootstrap_counts(episodes)

    splits: dict[str, Any] = {}
    held_rollouts: dict[str, dict[str, np.ndarray]] = {}
    for split, params in (("held_out", held_params), ("train", train_params)):
        rollouts = {
            THOMPSON: players.play(THOMPSON, params, key),
            AGENT: players.play(AGENT, params, key, frozen.params, frozen.trainer.agent),
        }
        # The training tasks only serve the return gap (agent and Thompson): random and
        # the locator are played on held-out tasks alone (each is one more compile per N).
        if split == "held_out":
            rollouts[RANDOM] = players.play(RANDOM, params, key)
            if locator_means is not None:
                rollouts[LOCATOR] = players.play(LOCATOR, params, key, locator_means)
            held_rollouts = rollouts
        splits[split] = split_statistics(rollouts, counts)

    likelihood: dict[str, Any] | None = None
    if locator_means is not None:
        agent_actions = held_rollouts[AGENT]["actions"]  # [S, T, E]: seeds' episodes side by side
        agent_rewards = held_rollouts[AGENT]["rewards"]
        seeds = agent_actions.shape[0]
        agent_row = _likelihood(
            np.concatenate(list(agent_actions), axis=1),
            np.concatenate(list(agent_rewards), axis=1),
            locator_means,
            reward_scale,
            eval_seed,
        )
        calibration = {}
        for name in (THOMPSON, LOCATOR):
            row = _likelihood(
                held_rollouts[name]["actions"],
                held_rollouts[name]["rewards"],
                locator_means,
                reward_scale,
                eval_seed,
            )
            calibration[name] = {
                k: row[k] for k in ("difference", "half_width", "interval", "verdict")
            }
        likelihood = {
            **agent_row,
            "stand_in": num_tasks is None,
            "locator_tasks": (
                f"the {len(locator_means)} training tasks"
                if num_tasks is not None
                else f"stand-in: {len(locator_means)} tasks drawn from the prior with this sweep's "
                f"task_seed (the N={len(locator_means)} training pool); this agent trained on fresh "
                "prior draws, not on these tasks"
            ),
            "seeds_pooled": seeds,
            "calibration": calibration,
        }
    result = {
        "cache_key": cache_key,
        "num_tasks": label(num_tasks),
        "run_dir": str(run_dir),
        "checkpoint_update": frozen.step,
        "env_steps": frozen.step * config.run.num_envs * config.run.rollout_length,
        "num_seeds": int(config.run.num_seeds),
        "held_out_pool": {
            "size": int(np.asarray(held_params.task_pool.means).shape[0]),
            "fingerprint": pool_fingerprint(held_params.task_pool.means),
        },
        "training_pool_fingerprint": None
        if training_means is None
        else pool_fingerprint(training_means),
        "held_out": splits["held_out"],
        "train": splits["train"],
        "train_minus_held_out_return": {
            name: _gap(splits["train"], splits["held_out"], name) for name in (AGENT, THOMPSON)
        },
        "likelihood": likelihood,
        "likelihood_skipped": None
        if likelihood is not None
        else "no finite training set and no stand-in pool",
        "eval_seconds": time.perf_counter() - start,
    }
    result = _json_ready(result)
    write_json_atomic(cache_path, result)
    log(
        f"  evaluation: {episodes} held-out + {episodes} training episodes in {result['eval_seconds']:.0f} s"
    )
    return {**result, "eval_status": "evaluated"}


# ---------------------------------------------------------------------- the summary
def _difference_of_intervals(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """a - b for two means measured on independent episode sets (half-widths added in quadrature)."""
    half = math.hypot((a["ci95"][1] - a["ci95"][0]) / 2.0, (b["ci95"][1] - b["ci95"][0]) / 2.0)
    mean = a["mean"] - b["mean"]
    return {"mean": mean, "ci95": [mean - half, mean + half]}


def with_derived_measures(point: dict[str, Any]) -> dict[str, Any]:
    """``point`` plus two numbers derived from its evaluation (so cached evaluations get them too).

    * ``memorisation_advantage``: (agent - Thompson on the training tasks) - (agent -
      Thompson on the held-out tasks), total reward per episode. Thompson sampling
      does not memorise, so subtracting it on each task set removes how easy the
      tasks are; what is left is what the agent gains from having trained on these
      very tasks. Paired within each set; the two sets are independent.
    * ``likelihood.calibrated_position``: where the agent's likelihood difference sits
      between the task locator's own choices (0) and Thompson sampling's (1), on the
      same episodes and the same locator pool: (d_agent - d_locator) / (d_thompson -
      d_locator). A point estimate only (the probe reports no per-episode values to
      resample the ratio with).
    """
    point = dict(point)
    train = point["train"]["agents"][AGENT].get(f"minus_{THOMPSON}", {}).get("total_reward")
    held = point["held_out"]["agents"][AGENT].get(f"minus_{THOMPSON}", {}).get("total_reward")
    if train is not None and held is not None:
        point["memorisation_advantage"] = _difference_of_intervals(train, held)
    likelihood = point.get("likelihood")
    if likelihood is not None:
        calibration = likelihood["calibration"]
        learner_end = calibration[THOMPSON]["difference"]
        locator_end = calibration[LOCATOR]["difference"]
        span = learner_end - locator_end
        position = (likelihood["difference"] - locator_end) / span if span > 0 else None
        point["likelihood"] = {**likelihood, "calibrated_position": position}
    return point


def _interval_text(lik: dict[str, Any]) -> str:
    return f"{lik['difference']:+.3f} [{lik['interval'][0]:+.3f}, {lik['interval'][1]:+.3f}]"


def describe_transition(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Where the likelihood verdict flips from locator to learner (finite N; inf listed apart).

    ``monotonic`` is True when the finite-N verdicts, in sweep order, never go back
    (locator ... undecided ... learner); ``learner_from_n`` is the smallest N from
    which every larger finite N reads learner, ``last_locator_n`` the largest N that
    reads locator.
    """
    rank = {"locator": 0, "undecided": 1, "learner": 2}
    rows = [(p["num_tasks"], p.get("likelihood")) for p in points]
    finite = [(n, lik["verdict"]) for n, lik in rows if lik is not None and not lik.get("stand_in")]
    learner_from = None
    for index, (n, _) in enumerate(finite):
        if all(v == "learner" for _, v in finite[index:]):
            learner_from = n
            break
    locator_up_to = None
    for n, v in finite:
        if v == "locator":
            locator_up_to = n
    monotonic = all(
        rank[a] <= rank[b] for (_, a), (_, b) in zip(finite[:-1], finite[1:], strict=True)
    )
    parts = [
        f"N={n}: skipped"
        if lik is None
        else f"N={n}: {lik['verdict']} {_interval_text(lik)}"
        + (" (stand-in locator)" if lik.get("stand_in") else "")
        for n, lik in rows
    ]
    if not finite:
        text = "no finite N has a likelihood comparison"
    elif monotonic and learner_from is not None and locator_up_to is not None:
        text = f"the verdict flips from locator (N <= {locator_up_to}) to learner (N >= {learner_from})"
    elif monotonic and learner_from is not None:
        text = f"learner from N = {learner_from} on; no finite N reads locator"
    elif monotonic:
        text = "no flip to learner at any finite N" + (
            f"; locator up to N = {locator_up_to}" if locator_up_to is not None else ""
        )
    else:
        text = "the verdict is not monotonic in N"
    return {
        "verdicts": {n: (None if lik is None else lik["verdict"]) for n, lik in rows},
        "monotonic": monotonic,
        "last_locator_n": locator_up_to,
        "learner_from_n": learner_from,
        "text": text + " (learner - locator per choice, 95% CI). " + "; ".join(parts),
    }


def build_summary(points: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    points = [with_derived_measures(p) for p in points]
    prints = {p["held_out_pool"]["fingerprint"] for p in points}
    return _json_ready(
        {
            "format_version": FORMAT_VERSION,
            **meta,
            "held_out_pool": {
                "size": points[0]["held_out_pool"]["size"] if points else None,
                "same_for_every_n": len(prints) == 1,
                "fingerprints": sorted(prints),
            },
            "transition": describe_transition(points),
            "points": points,
        }
    )


def _json_ready(value):
    """NaN / inf -> None, numpy -> Python, recursively (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


# ----------------------------------------------------------------------------- plot
MEMORISATION = "memorisation_advantage"
DODGE = {AGENT: 0.0, THOMPSON: -0.12, LOCATOR: 0.12, RANDOM: 0.24, MEMORISATION: 0.12}
"""Sideways shift (in octaves) per agent so overlapping error bars stay readable."""
COLORS = {
    AGENT: "#1f4e9c",
    THOMPSON: "#ff7f0e",
    LOCATOR: "#2ca02c",
    RANDOM: "#7f7f7f",
    MEMORISATION: "#8c1d40",
}
NAMES = {
    AGENT: "agent (frozen)",
    THOMPSON: "Thompson sampling",
    LOCATOR: "task locator (its N tasks)",
    RANDOM: "random",
}


def x_positions(labels: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """log2(N) for finite N; inf two octaves right of the largest finite N (a separate tick)."""
    finite = [math.log2(int(n)) for n in labels if n != INF_LABEL]
    inf_x = (max(finite) if finite else 0.0) + 2.0
    xs = np.array([inf_x if n == INF_LABEL else math.log2(int(n)) for n in labels])
    return xs, ["\u221e" if n == INF_LABEL else n for n in labels]


def _triples(entries: Sequence[dict | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(means, lows, highs) of ``{"mean", "ci95"}`` entries; NaN where an entry is missing."""
    rows = [
        (e["mean"], e["ci95"][0], e["ci95"][1])
        if e is not None and e.get("mean") is not None
        else (np.nan, np.nan, np.nan)
        for e in entries
    ]
    means, lows, highs = (np.array(column, float) for column in zip(*rows, strict=True))
    return means, lows, highs


def _agent_series(points, split: str, agent: str, key: str):
    return _triples([p[split]["agents"].get(agent, {}).get(key) for p in points])


def plot_sweep(
    summary: dict[str, Any], out_dir: Path, formats: Sequence[str] = ("png", "pdf")
) -> list[Path]:
    """The sweep figure from ``sweep_summary.json``'s contents; returns the files written."""
    from metarl.plotting import agg_pyplot, save_figure

    plt = agg_pyplot()
    points = summary["points"]
    labels = [p["num_tasks"] for p in points]
    xs, ticks = x_positions(labels)
    is_inf = np.array([n == INF_LABEL for n in labels])
    fig, axes = plt.subplots(2, 2, figsize=(11.5, 8.2))

    def draw(ax, series, agent: str, label: str | None = None, faint: bool = False):
        means, lows, highs = series
        err = np.vstack([means - lows, highs - means])
        x = xs + DODGE[agent]
        style = {"color": COLORS[agent], "marker": "o", "capsize": 3, "ms": 4 if faint else 5}
        if faint:
            style["alpha"] = 0.6
        finite = ~is_inf
        ax.errorbar(
            x[finite],
            means[finite],
            yerr=err[:, finite],
            lw=1.0 if faint else 1.8,
            ls="--" if faint else "-",
            label=label or NAMES[agent],
            **style,
        )
        if is_inf.any():  # hollow, unconnected: no finite training set there
            ax.errorbar(
                x[is_inf], means[is_inf], yerr=err[:, is_inf], ls="none", mfc="white", **style
            )

    for ax in axes.ravel():
        ax.set_xticks(xs, ticks)
        ax.set_xlabel("training tasks N (log scale; \u221e = a fresh prior draw every episode)")
        ax.grid(alpha=0.3)
        if is_inf.any() and (~is_inf).any():
            ax.axvline(xs[is_inf][0] - 1.0, color="k", lw=0.6, ls=":")

    ax = axes[0, 0]
    for agent in (AGENT, THOMPSON, LOCATOR):
        draw(ax, _agent_series(points, "held_out", agent, "in_context_improvement"), agent)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_ylabel("held-out in-context improvement\n(late - early reward) / (oracle - random)")
    ax.set_title("Learning within held-out episodes")
    ax.legend(fontsize=8)

    ax = axes[0, 1]
    for agent in (AGENT, THOMPSON, LOCATOR, RANDOM):
        draw(ax, _agent_series(points, "held_out", agent, "total_reward"), agent)
    ax.set_ylabel("held-out mean total reward per episode")
    ax.set_title("Held-out return")
    ax.legend(fontsize=8)

    ax = axes[1, 0]
    for agent in (AGENT, THOMPSON):
        draw(ax, _triples([p["train_minus_held_out_return"][agent] for p in points]), agent)
    advantage = _triples([p.get("memorisation_advantage") for p in points])
    draw(ax, advantage, MEMORISATION, "agent gap - Thompson gap (memorisation advantage)")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_ylabel("training-task - held-out total reward")
    ax.set_title("Return gap (Thompson's: only how easy the training tasks are)")
    ax.legend(fontsize=8)

    ax = axes[1, 1]
    likelihoods = [p.get("likelihood") for p in points]

    def likelihood_series(pick):
        return _triples(
            [
                None
                if lik is None
                else {"mean": pick(lik)["difference"], "ci95": pick(lik)["interval"]}
                for lik in likelihoods
            ]
        )

    # The references' own choices, scored against the same locator pool on the same
    # episodes: where a pure learner and a pure locator land, so the agent can be read
    # against them (the scale shrinks as N grows: the two models agree more).
    draw(
        ax,
        likelihood_series(lambda lik: lik["calibration"][THOMPSON]),
        THOMPSON,
        "Thompson sampling's own choices (learner reference)",
        faint=True,
    )
    draw(
        ax,
        likelihood_series(lambda lik: lik["calibration"][LOCATOR]),
        LOCATOR,
        "task locator's own choices (locator reference)",
        faint=True,
    )
    draw(ax, likelihood_series(lambda lik: lik), AGENT)
    for lik, x in zip(likelihoods, xs, strict=True):
        if lik is not None:
            ax.annotate(
                lik["verdict"] + ("\n(stand-in)" if lik.get("stand_in") else ""),
                (x, lik["interval"][1]),
                textcoords="offset points",
                xytext=(0, 4),
                ha="center",
                fontsize=7,
                color=COLORS[AGENT],
            )
    ax.axhline(0.0, color="k", lw=1.0)
    # Symmetric log: the references span +-1.6 at N = 1, the agent's difference is a
    # few hundredths at large N; both must stay readable with the zero line.
    ax.set_yscale("symlog", linthresh=0.01, linscale=0.5)
    ticks_y = [-1.0, -0.1, -0.01, 0.0, 0.01, 0.1, 1.0]
    ax.set_yticks(ticks_y, [f"{t:g}" for t in ticks_y])
    ax.set_ylim(-3.0, 30.0)  # headroom above the data for the legend
    ax.set_ylabel(
        "held-out log-likelihood per choice,\nBayes learner - task locator (95% CI; symlog)"
    )
    ax.set_title("Which model explains the choices (> 0: learner)")
    ax.legend(fontsize=7, loc="upper left")

    meta = summary.get("sweep", {})
    steps = meta.get("total_env_steps_per_point")
    fig.suptitle(
        f"Task-diversity sweep ({summary.get('experiment', '')}): "
        f"{'?' if steps is None else f'{steps / 1e6:g}M'} env steps per N, {meta.get('episodes', '?')} "
        "held-out episodes (the same for every N), 95% intervals.\nHollow at \u221e: no finite training set "
        f"(locator: the {meta.get('stand_in_pool_size') or '-'}-task stand-in pool)",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    out_dir.mkdir(parents=True, exist_ok=True)
    return save_figure(fig, out_dir, FIGURE_NAME, tuple(formats))


# ------------------------------------------------------------------------------ main
def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s"


def _stand_in_means(
    experiment: Path, sets: Sequence[str], total_env_steps: int | None
) -> np.ndarray:
    from metarl import envs

    config = point_config(experiment, STAND_IN_POOL_SIZE, sets, total_env_steps)
    _, params = envs.make(config.env.name, **config.env.overrides)
    return np.asarray(params.task_pool.means)


def run_sweep(
    out: Path,
    num_tasks_values: Sequence[int | None],
    *,
    experiment: Path = DEFAULT_EXPERIMENT,
    sets: Sequence[str] = (),
    total_env_steps: int | None = None,
    episodes: int = DEFAULT_EPISODES,
    eval_seed: int = DEFAULT_EVAL_SEED,
    log: Callable[[str], None] = log_stderr,
) -> dict[str, Any]:
    """Train, evaluate and summarise every N; writes the summary and figure; returns the summary."""
    from metarl.config_io import config_to_dict
    from metarl.runner.train_loop import env_steps_per_update, total_updates

    if episodes < 4:
        raise ValueError(
            f"--episodes {episodes}: at least 4 (the likelihood comparison cross-validates halves)"
        )
    out = Path(out).absolute()
    configs = {n: point_config(experiment, n, sets, total_env_steps) for n in num_tasks_values}
    # What is left to train, so the ETA can count env steps rather than points.
    remaining_steps = {}
    for n, config in configs.items():
        status, latest = training_status(config, out / run_dir_name(n))
        steps_per_update = env_steps_per_update(config) * config.run.num_seeds
        remaining_steps[n] = (
            (total_updates(config) - latest) * steps_per_update if status != "finished" else 0
        )
        log(
            f"plan N={label(n)}: {status}" + (f" (checkpoint at update {latest})" if latest else "")
        )
    stand_in = (
        _stand_in_means(experiment, sets, total_env_steps) if None in num_tasks_values else None
    )
    players_cache: dict = {}
    points = []
    sweep_start = time.perf_counter()
    trained_steps, train_seconds, eval_seconds, evals_done = 0, 0.0, [], 0
    for index, n in enumerate(num_tasks_values, start=1):
        rate = trained_steps / train_seconds if train_seconds > 0 else float("nan")
        todo = sum(remaining_steps[m] for m in num_tasks_values[index - 1 :])
        mean_eval = float(np.mean(eval_seconds)) if eval_seconds else float("nan")
        eta = (todo / rate if todo else 0.0) + mean_eval * (len(num_tasks_values) - index + 1)
        log(
            f"[{index}/{len(num_tasks_values)}] N={label(n)} -> {out / run_dir_name(n)} | "
            f"elapsed {format_duration(time.perf_counter() - sweep_start)} | ETA {format_duration(eta)}"
        )
        run_dir = out / run_dir_name(n)
        training = train_point(configs[n], run_dir, log)
        trained_steps += training["trained_env_steps"]
        train_seconds += training["seconds"]
        point = evaluate_point(
            configs[n],
            run_dir,
            n,
            checkpoint_update=training["update"],
            episodes=episodes,
            eval_seed=eval_seed,
            stand_in_means=stand_in,
            players_cache=players_cache,
            log=log,
        )
        if point["eval_status"] == "evaluated":
            eval_seconds.append(point["eval_seconds"])
            evals_done += 1
        point["training"] = training
        points.append(point)
        agent = point["held_out"]["agents"][AGENT]
        lik = point.get("likelihood")
        log(
            f"  held out: agent return {agent['total_reward']['mean']:.2f}, in-context improvement "
            f"{agent.get('in_context_improvement', {}).get('mean', float('nan')):.3f}; likelihood learner - locator "
            + (
                f"{lik['difference']:+.4f} [{lik['interval'][0]:+.4f}, {lik['interval'][1]:+.4f}] -> {lik['verdict']}"
                + (" (stand-in locator)" if lik.get("stand_in") else "")
                if lik
                else "skipped"
            )
        )
    first = configs[num_tasks_values[0]]
    meta = {
        "experiment": first.name,
        "experiment_file": str(experiment),
        "config_of_first_point": config_to_dict(first),
        "sweep": {
            "num_tasks": [label(n) for n in num_tasks_values],
            "sets": list(sets),
            "total_env_steps_per_point": first.run.total_env_steps,
            "episodes": episodes,
            "eval_seed": eval_seed,
            "actions": "sampled",
            "stand_in_pool_size": STAND_IN_POOL_SIZE if None in num_tasks_values else None,
            "bootstrap": "95% percentile intervals over episodes, 1000 resamples, shared by all agents",
        },
        "timing": {
            "sweep_seconds": time.perf_counter() - sweep_start,
            "training_seconds_this_invocation": train_seconds,
            "env_steps_trained_this_invocation": trained_steps,
            "evaluations_this_invocation": evals_done,
        },
    }
    summary = build_summary(points, meta)
    out.mkdir(parents=True, exist_ok=True)
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    written = plot_sweep(summary, out)
    log(f"transition: {summary['transition']['text']}")
    log(f"wrote {out / SUMMARY_FILE} and {', '.join(str(p) for p in written)}")
    return summary


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="sweep directory (one run dir per N inside)"
    )
    parser.add_argument(
        "--num-tasks", help="comma list of N, 'inf' for infinitely many (default: SWEEP_NUM_TASKS)"
    )
    parser.add_argument(
        "--experiment", type=Path, default=DEFAULT_EXPERIMENT, help="experiment .py file"
    )
    parser.add_argument(
        "--total-env-steps",
        type=float,
        default=None,
        help="env steps per N (default: the experiment's)",
    )
    parser.add_argument(
        "--episodes", type=int, default=DEFAULT_EPISODES, help="episodes per evaluation set"
    )
    parser.add_argument("--eval-seed", type=int, default=DEFAULT_EVAL_SEED)
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for every N (repeatable), as metarl train --set",
    )
    parser.add_argument(
        "--plot-only", action="store_true", help="redraw the figure from sweep_summary.json"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from metarl.errors import ConfigError
    from metarl.runner.run_dir import RunDirError

    try:
        if args.plot_only:
            summary = json.loads((args.out / SUMMARY_FILE).read_text())
            written = plot_sweep(summary, args.out)
            log_stderr(f"wrote {', '.join(str(p) for p in written)}")
            return 0
        values = (
            parse_num_tasks_list(args.num_tasks)
            if args.num_tasks
            else load_sweep_values(args.experiment)
        )
        steps = None
        if args.total_env_steps is not None:
            if args.total_env_steps < 1 or not float(args.total_env_steps).is_integer():
                raise ValueError(f"--total-env-steps {args.total_env_steps:g}: a whole number >= 1")
            steps = int(args.total_env_steps)
        run_sweep(
            args.out,
            values,
            experiment=args.experiment,
            sets=args.sets,
            total_env_steps=steps,
            episodes=args.episodes,
            eval_seed=args.eval_seed,
        )
    except (ValueError, ConfigError, RunDirError, FileNotFoundError) as error:
        log_stderr(f"error: {error}")
        return 2
    return 0


if __name__ == "__main__":
    import metarl  # noqa: F401  (XLA flags before JAX starts)

    sys.exit(main())
