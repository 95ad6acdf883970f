"""Measure of Dark Room reproductions: return per trial of a task, frozen agent beside references.

For one trained ``dark-room-v0`` setting, every frozen training seed (``jit(vmap)`` over
seeds) plays ``episodes`` episodes of the *held-out* goals (the run's ``held_out``
suite: goals never trained on), and so do the sweep explorer and the uniform random
policy, all from one key: the same goals, so comparisons are paired. An episode is
``num_trials`` trials of one goal; each trial's return is summed. Returned
(JSON-ready, ``Interval`` as ``{"value", "low", "high"}``):

* ``curves``: return per trial index, per agent, with 95% intervals: the checkpoint's
  over training seeds (``seed_stats.seed_level_interval``), a reference's over
  episodes; ``checkpoint_train_goals`` the checkpoint on its training goals (same
  interval), for contrast; ``oracle`` the return of an agent told the goal;
* ``exact``: the explorer's and the random policy's *expected* return per trial over
  the held-out goals (every goal equally likely): the explorer is deterministic, so it
  is played once per goal; the random policy's comes from its Markov chain
  (``metarl.evaluation.baselines.dark_room``);
* ``rise``: the checkpoint's paired rise, mean return of the last ``LAST_TRIALS``
  trials minus the first trial's, per episode, with its seed-level interval, and the
  same for the references in ``table`` (the rise is what the claim judges);
  ``explorer_rise`` the explorer's exact expected rise (the claim's scale);
* ``checkpoint_minus``: checkpoint - reference on the last trials' mean return, paired;
* ``per_seed``: every seed's curve and rise.

``plot(report, out_dir)`` draws ``reproduction.{png,pdf}``: return per trial index
(checkpoint with its interval and each seed, explorer, random, oracle; the
checkpoint on training goals dashed) beside the rise per agent.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from metarl.interval import Interval
from metarl.reproduce.context import SettingContext
from metarl.reproduce.seed_stats import episode_interval, seed_level_interval
from metarl.reproduce.spec import CHECKPOINT

EPISODES = 1024
EVAL_SEED = 2022
"""Fixed evaluation key (the AD paper's year), apart from training seeds (0, 1, ...)."""
LAST_TRIALS = 3
"""The rise is the mean of the last this many trials minus the first trial (not a measure
option: the claim's rule is written for it)."""
EXPLORER = "sweep_explorer"
RANDOM = "random"


def check_options(options: dict[str, Any]) -> None:
    """Refuse bad measure options before anything trains (ConfigError naming the field)."""
    from metarl.errors import ConfigError

    episodes = int(options.get("episodes", EPISODES))
    if episodes < 2:
        raise ConfigError(
            f"measure: field 'measure.episodes' = {episodes} is out of range; allowed: at least 2"
        )
    if int(options.get("eval_seed", EVAL_SEED)) < 0:
        raise ConfigError(
            f"measure: field 'measure.eval_seed' = {options['eval_seed']} is out of range; "
            "allowed: at least 0"
        )


def trial_returns(rewards: np.ndarray, num_trials: int) -> np.ndarray:
    """``[..., step, episode]`` rewards -> ``[..., trial, episode]`` return per trial."""
    rewards = np.asarray(rewards, np.float64)
    *lead, steps, episodes = rewards.shape
    shaped = rewards.reshape(*lead, num_trials, steps // num_trials, episodes)
    return shaped.sum(axis=-2)


def rise(per_trial: np.ndarray, last: int = LAST_TRIALS) -> np.ndarray:
    """``[..., trial, episode]`` -> ``[..., episode]`` mean of the last ``last`` trials - first."""
    return per_trial[..., -last:, :].mean(axis=-2) - per_trial[..., 0, :]


def _seed_curve(per_trial: np.ndarray) -> list[Interval]:
    """[S, K, E] -> per trial, the mean with its seed-level interval."""
    return [seed_level_interval(per_trial[:, k, :])[0] for k in range(per_trial.shape[1])]


def measure(
    context: SettingContext,
    episodes: int = EPISODES,
    eval_seed: int = EVAL_SEED,
    greedy: bool = False,
) -> dict[str, Any]:
    """The setting's curves, rises and exact references (module docstring)."""
    import jax

    from metarl.evaluation.baselines import random_policy
    from metarl.evaluation.baselines.dark_room import (
        explorer_expected_trial_returns,
        random_trial_returns,
        sweep_explorer,
    )
    from metarl.evaluation.play import Player, checkpoint_maker
    from metarl.evaluation.suites import make_suite_env
    from metarl.runner.train_loop import env_steps_per_update

    frozen = context.frozen()
    config = frozen.config
    suite, env, params = make_suite_env(
        config.env.name, config.env.overrides, "held_out", frozen.base_env, frozen.env_params
    )
    num_trials, horizon = params.num_trials, params.max_steps_in_episode
    goals = np.asarray(params.task_pool.goal) if params.task_pool is not None else None
    goals = np.arange(params.num_cells) if goals is None else goals
    player = Player(env, episodes, horizon)
    key = jax.random.PRNGKey(eval_seed)
    context.log(
        f"measure {context.setting.name}: {frozen.num_seeds} seed(s), the explorer and random on "
        f"{episodes} shared episodes of {len(goals)} held-out goals x {num_trials} trials"
    )
    start = time.perf_counter()
    maker = checkpoint_maker(frozen.agent, greedy)
    played = player.play(maker, params, key, policy_args=frozen.params, seeds=True)
    checkpoint = trial_returns(played.rewards, num_trials)  # [S, K, E]
    on_train = trial_returns(
        player.play(maker, frozen.env_params, key, policy_args=frozen.params, seeds=True).rewards,
        num_trials,
    )
    policies = {EXPLORER: sweep_explorer(params), RANDOM: random_policy(env.num_actions)}
    references = {
        name: trial_returns(player.play_policy(policy, params, key).rewards, num_trials)
        for name, policy in policies.items()
    }  # [K, E] each
    oracle = trial_returns(played.info["optimal_expected_reward"][0], num_trials).mean(axis=-1)
    play_s = time.perf_counter() - start
    exact = {
        EXPLORER: explorer_expected_trial_returns(params, goals).mean(axis=0),
        RANDOM: np.full(num_trials, random_trial_returns(params, goals).mean()),
    }

    checkpoint_rise, unit, table, differences, curves = _summaries(
        checkpoint, on_train, references, oracle, num_trials
    )
    return {
        "num_trials": num_trials,
        "trial_length": params.trial_length,
        "room_size": params.room_size,
        "episodes": episodes,
        "eval_seed": eval_seed,
        "actions": "greedy" if greedy else "sampled",
        "suite": suite.description,
        "held_out_goals": goals,
        "num_training_goals": int(np.asarray(frozen.env_params.task_pool.goal).shape[0])
        if frozen.env_params.task_pool is not None
        else None,
        "checkpoint_update": frozen.step,
        "num_seeds": frozen.num_seeds,
        "env_steps_per_seed": frozen.step * env_steps_per_update(config),
        "last_trials": LAST_TRIALS,
        "curves": curves,
        "exact": exact,
        "rise": checkpoint_rise,
        "explorer_rise": float(exact[EXPLORER][-LAST_TRIALS:].mean() - exact[EXPLORER][0]),
        "interval_unit": unit,
        "table": table,
        "checkpoint_minus": differences,
        "per_seed": {
            "curve": checkpoint.mean(axis=-1),
            "rise": rise(checkpoint).mean(axis=-1),
        },
        "timing": {"play_s": play_s, "compile_s": played.compile_s},
    }


def _summaries(checkpoint, on_train, references, oracle, num_trials):
    """Rises, last-trials differences and per-trial curves of the played returns."""
    checkpoint_rise, unit = seed_level_interval(rise(checkpoint))
    table: dict[str, Any] = {CHECKPOINT: checkpoint_rise}
    differences = {}
    last = checkpoint[:, -LAST_TRIALS:, :].mean(axis=1)  # [S, E]
    for name, values in references.items():
        table[name] = episode_interval(rise(values))
        differences[name] = seed_level_interval(
            last - values[-LAST_TRIALS:, :].mean(axis=0)[None, :]
        )[0]
    curves = {
        CHECKPOINT: _seed_curve(checkpoint),
        "checkpoint_train_goals": _seed_curve(on_train),
        **{
            name: [episode_interval(values[k]) for k in range(num_trials)]
            for name, values in references.items()
        },
        "oracle": oracle,
    }
    return checkpoint_rise, unit, table, differences, curves


# ------------------------------------------------------------------ figure
def _band(ax, x, intervals, color, label, **style):
    values = [Interval.from_json(i) for i in intervals]
    mean = np.array([v.value for v in values])
    ax.plot(x, mean, color=color, label=label, **style)
    low = np.array([v.low for v in values])
    high = np.array([v.high for v in values])
    if np.all(np.isfinite(low)) and np.all(np.isfinite(high)):
        ax.fill_between(x, low, high, color=color, alpha=0.2, lw=0)


def plot(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """``reproduction.{png,pdf}``: return per trial index per agent, and the rise per agent."""
    import textwrap

    from metarl.plotting import CHECKPOINT_COLOR, agg_pyplot, save_figure
    from metarl.reproduce.report import FIGURE, draw_points

    plt = agg_pyplot()
    settings = report["settings"]
    fig, axes = plt.subplots(
        len(settings), 2, figsize=(11.0, 4.4 * len(settings) + 0.9), squeeze=False,
        gridspec_kw={"width_ratios": (2.2, 1.0)}, constrained_layout=True,
    )  # fmt: skip
    for row, setting in enumerate(settings):
        summary = report["measured"].get(setting["name"], {})
        curves, ax = summary.get("curves", {}), axes[row, 0]
        if not curves:
            ax.text(0.5, 0.5, "not measured", ha="center", transform=ax.transAxes)
            continue
        x = np.arange(1, summary["num_trials"] + 1)
        for seed_curve in summary["per_seed"]["curve"]:
            ax.plot(x, seed_curve, color=CHECKPOINT_COLOR, lw=0.7, alpha=0.4)
        _band(ax, x, curves[CHECKPOINT], CHECKPOINT_COLOR, "checkpoint, held-out goals", lw=2.2)
        _band(ax, x, curves["checkpoint_train_goals"], CHECKPOINT_COLOR,
              "checkpoint, training goals", lw=1.2, ls="--")  # fmt: skip
        exact = summary["exact"]
        ax.plot(x, exact[EXPLORER], color="#ff7f0e", lw=1.8, marker="o", ms=3,
                label="sweep explorer, held-out goals (expected)")  # fmt: skip
        ax.plot(x, exact[RANDOM], color="0.45", lw=1.5, label="random, held-out goals (expected)")
        ax.plot(
            x,
            curves["oracle"],
            color="black",
            lw=1.0,
            ls=":",
            label="told the goal, held-out goals",
        )
        ax.set_xticks(x)
        ax.set_xlabel(f"trial of the same goal ({summary['trial_length']} steps each)")
        ax.set_ylabel("return per trial")
        ax.set_ylim(bottom=0.0)
        ax.grid(alpha=0.3)
        ax.set_title(
            f"{setting['label']}\n{summary['episodes']} episodes of held-out goals, "
            f"{summary['num_seeds']} seeds (band: 95% over seeds; thin lines: each seed)",
            fontsize=8,
        )
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3)
        rows = [r for r in report["table"] if r["setting"] == setting["name"]]
        status = "; ".join(
            f"{c['claim']}: {c['status']}" for r in rows for c in r["claims"] if c["claim"]
        )
        entries = [(r["agent"], r["measured"], None) for r in rows]
        draw_points(
            axes[row, 1],
            entries,
            f"return per trial: mean of the last {summary['last_trials']} - first",
        )
        axes[row, 1].axhline(0.0, color="black", lw=0.8)
        axes[row, 1].set_title(textwrap.fill(status or "rise", 45), fontsize=8)
    source = textwrap.fill(report["source"], 120)
    fig.suptitle(
        f"{report['reproduction']} ({report['variant']}): {report['status']}\n{source}", fontsize=9
    )
    return save_figure(fig, Path(out_dir), FIGURE, ("png", "pdf"))
