"""The ruleset-diversity analysis: ruleset locator or ruleset learner, as N grows?

Every point (N training rulesets, pool seed) trained ``S`` seeds. Held-out
rulesets: per pool seed, the held-out split of its largest finite pool (256 in the
sweep). A sweep's pools of one pool seed are nested (each is the first N rulesets
of the largest), so that one set is disjoint from every training pool of the pool
seed, which ``held_out_sets`` checks, and every N plays the same held-out episodes.
N = inf trained on the prior, which holds every ruleset, so its held-out rulesets
are not unseen: its points say so (``held_out.unseen`` False).

Each frozen seed plays the held-out episodes beside the rule grid's references
(``metarl.evaluation.baselines.rule_grid``): the oracle planner (told the ruleset),
the ruleset learner (exact Bayes over the prior's rulesets), the ruleset locator
over the point's N training rulesets (N = inf: the largest finite pool of its pool
seed, a labelled stand-in), the memoryless collector and the random policy, all on
one key (common random numbers); then its own training rulesets beside the
ruleset learner. Per seed (``seed_measures``):

* ``held_out_return``: mean total reward per held-out episode;
* ``held_out_improvement_raw``: per-trial improvement on held-out rulesets, mean
  over episodes of (last trial's return - first trial's), reward per trial;
* ``held_out_improvement``: the same over the oracle planner's - random's mean
  per-trial return (1: improving by the whole gap between knowing the ruleset and
  acting at random);
* ``memorisation_advantage``: (agent - ruleset learner on training rulesets) -
  (agent - ruleset learner on held-out rulesets): what the agent gains from having
  trained on these very rulesets, with ruleset difficulty removed by the learner;
* ``likelihood_difference``: cross-validated log-likelihood per collection choice
  of the seed's held-out episodes, ruleset learner - ruleset locator beliefs
  (``learner_vs_locator``: the ``rule_likelihood`` probe's choice model);
* ``learner_belief_gain`` / ``locator_belief_gain``: each belief's log-likelihood
  per choice over distance alone (the probe's reward-blind floor).

Per N: IQM over pool seeds x training seeds with a stratified bootstrap interval
and the seed-level verdict (``metarl.sweeps.diversity.verdict_of``): 'learner' when
the likelihood difference's interval lies above 0 and the learner belief's gain
interval too, 'locator' when the difference's lies below 0 and the locator
belief's gain above, 'undecided' otherwise, 'not available' when nothing was
measured. Per point, the same comparison on the ruleset learner's and locator's
own held-out episodes (``calibration``) says whether it can tell them apart at
that N.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import jax
import numpy as np

from metarl.interval import Interval
from metarl.sweeps import diversity
from metarl.sweeps.groups import num_tasks_of

EPISODES = 512
"""Held-out (and training) episodes per seed. Claims rest on the seed-level interval
over 6 runs; 512 episodes keep each run's own noise (per-episode return sd about 3,
so a standard error about 0.13) well under the spread between runs."""
EVAL_SEED = 0
MEASURES = (
    "held_out_return",
    "held_out_improvement",
    "memorisation_advantage",
    "likelihood_difference",
    "held_out_improvement_raw",
    "learner_belief_gain",
    "locator_belief_gain",
)
GAINS = ("learner_belief_gain", "locator_belief_gain")
"""Per seed, each belief's held-out log-likelihood per choice over distance alone (the
probe's belief-free floor): the verdict names a belief only where it beats that floor."""
REFERENCES = ("oracle_planner", "ruleset_learner", "memoryless_collector", "random")
"""References played on each pool seed's held-out rulesets (the locator is per point)."""
FORMAT_VERSION = 1
FIGURE = "rule_grid_diversity"


# --------------------------------------------------------------------------- measures
def per_trial_returns(rewards, trial_length: int) -> np.ndarray:
    """``[..., T, E]`` rewards -> ``[..., K, E]`` return of each trial (trials are whole)."""
    rewards = np.asarray(rewards, np.float64)
    *lead, steps, episodes = rewards.shape
    if steps % trial_length:
        raise ValueError(f"{steps} steps are not whole trials of {trial_length}")
    return rewards.reshape(*lead, steps // trial_length, trial_length, episodes).sum(axis=-2)


def episode_returns(rewards) -> np.ndarray:
    """``[..., T, E]`` rewards -> ``[...]`` mean total reward per episode."""
    return np.asarray(rewards, np.float64).sum(axis=-2).mean(axis=-1)


def seed_measures(
    agent_held, agent_train, refs_held: dict[str, Any], learner_train, trial_length: int
) -> dict[str, np.ndarray]:
    """Per-seed measures ``{name: [S]}`` of one point (likelihood aside; see the module doc).

    ``agent_held`` / ``agent_train`` are the seeds' rewards ``[S, T, E]`` on held-out and
    training rulesets; ``refs_held`` the references' ``[T, E]`` on the same held-out
    episodes (``oracle_planner``, ``random``, ``ruleset_learner``); ``learner_train`` the
    ruleset learner's ``[T, E]`` on the same training episodes as the agent.
    """
    from metarl.evaluation.metrics import in_context_improvement

    trials = per_trial_returns(agent_held, trial_length)  # [S, K, E]
    last = trials.shape[-2]
    raw = (trials[:, -1] - trials[:, 0]).mean(axis=-1)
    oracle = per_trial_returns(refs_held["oracle_planner"], trial_length).mean()
    random = per_trial_returns(refs_held["random"], trial_length).mean()
    if np.isfinite(oracle - random) and oracle > random:
        normalised = np.array(
            [
                in_context_improvement(t, oracle, random, (0, 1), (last - 1, last)).mean()
                for t in trials
            ]
        )
    else:  # no gap to normalise by (an oracle no better than random): say so, not divide
        normalised = np.full(len(trials), np.nan)
    held = episode_returns(agent_held)
    learner_gap_held = held - episode_returns(refs_held["ruleset_learner"])
    learner_gap_train = episode_returns(agent_train) - episode_returns(learner_train)
    return {
        "held_out_return": held,
        "held_out_improvement": normalised,
        "held_out_improvement_raw": raw,
        "memorisation_advantage": learner_gap_train - learner_gap_held,
    }


def reference_summary(refs_held: dict[str, Any], trial_length: int) -> dict[str, float]:
    """Each reference's held-out return and per-trial improvement (normalised as the agent's)."""
    oracle = per_trial_returns(refs_held["oracle_planner"], trial_length).mean()
    random = per_trial_returns(refs_held["random"], trial_length).mean()
    out = {}
    for name, rewards in refs_held.items():
        trials = per_trial_returns(rewards, trial_length)
        out[name] = float(episode_returns(rewards))
        gain = float((trials[-1] - trials[0]).mean())
        out[f"{name}_improvement"] = gain / (oracle - random) if oracle > random else float("nan")
    return out


# --------------------------------------------------------------------------- held-out sets
@dataclasses.dataclass(frozen=True)
class HeldOutSets:
    """Per point: the held-out env params it is scored on and what they are disjoint from."""

    params: list[Any]
    source: list[str]
    """Which config's held-out split each point plays (its label)."""
    overlap: list[int | None]
    """Held-out rulesets inside the point's training pool (None: trained on the prior)."""


def ruleset_keys(pool, num_active=None) -> list[bytes]:
    """One byte string per ruleset of ``pool`` (its active part), equal iff the rulesets are."""
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(pool)]
    count = leaves[0].shape[0] if num_active is None else int(num_active)
    rows = [leaf.reshape(leaf.shape[0], -1) for leaf in leaves]
    return [b"".join(row[i].tobytes() for row in rows) for i in range(count)]


def held_out_sets(configs, labels, train_params) -> HeldOutSets:
    """Per pool seed, the held-out split of its largest finite pool; overlaps counted.

    ``train_params`` are the points' training env params (``diversity.training_params``).
    """
    cache: dict[int, Any] = {}
    params, source, overlap = [], [], []
    for i, config in enumerate(configs):
        k = diversity.largest_pool_index(configs, i)
        k = i if k is None else k
        if k not in cache:
            cache[k] = diversity.env_params([configs[k]], split="held_out")[0]
        params.append(cache[k])
        source.append(labels[k])
        if num_tasks_of(config) is None:
            overlap.append(None)
            continue
        held = set(ruleset_keys(cache[k].task_pool))
        train = train_params[i]
        keys = ruleset_keys(train.task_pool, train.num_active_tasks)
        overlap.append(sum(key in held for key in keys))
    return HeldOutSets(params, source, overlap)


# --------------------------------------------------------------------------- playing
@functools.cache
def reference_maker(name: str):
    """``(env_params, train_params) -> reference policy``: built inside the compiled program,
    so one compile serves every pool seed and every point (``metarl.evaluation.play``)."""
    from metarl.evaluation.baselines import rule_grid

    return lambda args: rule_grid.rule_grid_references(*args)[name]


@functools.cache
def random_maker(num_actions: int):
    from metarl.evaluation.baselines import random_policy

    return lambda _: random_policy(num_actions)


def recording(make_policy, record: bool = True):
    """``make_policy`` whose extras are only the rule-grid ground truth (``record``) or nothing.

    The likelihood reads the grid, square and ruleset before each action
    (``rule_grid_beliefs.read_rule_grid_state``); nothing else a policy exposes (an
    agent's hidden state, a learner's posterior) is kept, so a sweep's ``[P, S, T, E]``
    episodes stay small.
    """
    from metarl.evaluation.policy import FunctionalPolicy
    from metarl.probes.rule_grid_beliefs import read_rule_grid_state

    def make(args):
        policy = make_policy(args)

        def act(carry, inputs, key):
            carry, action, _ = policy.act(carry, inputs, key)
            truth = read_rule_grid_state(inputs.privileged_state) if record else None
            return carry, action, {} if truth is None else {"ground_truth": truth}

        return FunctionalPolicy(
            init_carry_fn=policy.init_carry, act_fn=act, num_actions=policy.num_actions
        )

    return make


def _play_by_structure(player, maker, params_list, key, args_of, seeds: bool) -> list[Any]:
    """Rewards of ``maker`` on each params of ``params_list``: ``[S?, T, E]`` per entry.

    Entries of one tree structure play in one ``points=True`` call; ``args_of(rows)``
    gives the policy arguments of those rows (leading axis: the rows).
    """
    out: list[Any] = [None] * len(params_list)
    for indices in diversity.by_structure(params_list):
        rows = np.asarray(indices)
        stacked = diversity.stack([params_list[i] for i in indices])
        played = player.play(
            maker, stacked, key, policy_args=args_of(rows, stacked), seeds=seeds, points=True
        )
        for k, i in enumerate(indices):
            out[i] = played.rewards[k]
    return out


def _point_rows(tree, rows):
    return jax.tree.map(lambda x: x[rows], tree)


@dataclasses.dataclass(frozen=True)
class ReferencePlays:
    """Per point: every reference's held-out rewards ``{name: [T, E]}``; the learner's and
    the locator's held-out episodes with ground truth (``[T, E]`` ``Rollouts``, locator
    None where the point has no pool to locate)."""

    rewards: list[dict[str, np.ndarray]]
    learner: list[Any]
    locator: list[Any]


def play_references(player, held: HeldOutSets, locator_params, key) -> ReferencePlays:
    """Every reference on each point's held-out episodes (one key: common random numbers).

    The references that do not depend on the training pool play once per held-out set;
    the locator plays per point over ``locator_params`` (its training pool, or the stand-in).
    """
    sources = list(dict.fromkeys(held.source))
    unique = diversity.stack([held.params[held.source.index(s)] for s in sources])
    num_actions = int(player.env.action_space(held.params[0]).n)
    by_source: dict[str, dict[str, np.ndarray]] = {s: {} for s in sources}
    learner_by_source = {}
    for name in REFERENCES:
        if name == "random":
            maker, args = recording(random_maker(num_actions), record=False), None
        else:
            maker = recording(reference_maker(name), record=name == "ruleset_learner")
            args = (unique, unique)
        played = player.play(maker, unique, key, policy_args=args, points=True)
        for k, source in enumerate(sources):
            by_source[source][name] = played.rewards[k]
            if name == "ruleset_learner":
                learner_by_source[source] = _select(played, k)
    rewards = [dict(by_source[s]) for s in held.source]
    locator: list[Any] = [None] * len(rewards)
    with_pool = [i for i, p in enumerate(locator_params) if p is not None]
    if with_pool:
        stacked_held = diversity.stack([held.params[i] for i in with_pool])
        stacked_pool = diversity.stack([locator_params[i] for i in with_pool])
        played = player.play(
            recording(reference_maker("ruleset_locator")),
            stacked_held,
            key,
            policy_args=(stacked_held, stacked_pool),
            points=True,
        )
        for k, i in enumerate(with_pool):
            rewards[i]["ruleset_locator"] = played.rewards[k]
            locator[i] = _select(played, k)
    return ReferencePlays(rewards, [learner_by_source[s] for s in held.source], locator)


def evaluate(ctx, episodes: int = EPISODES, eval_seed: int = EVAL_SEED) -> dict[str, Any]:
    """Held-out and training-ruleset evaluation of every point and seed; the sweep summary."""
    from metarl import envs
    from metarl.evaluation.play import Player, checkpoint_maker

    configs = ctx.configs
    train_params = diversity.training_params(ctx)
    held = held_out_sets(configs, ctx.labels, train_params)
    shared = [label for label, n in zip(ctx.labels, held.overlap, strict=True) if n]
    if shared:  # pools that are not nested: recorded per point, and said here
        ctx.log(f"sweep: held-out rulesets inside the training pool of {', '.join(shared)}")
    env = envs.make(configs[0].env.name, **configs[0].env.overrides)[0]
    first = held.params[0]
    trial_length = int(first.trial_length)
    player = Player(env, episodes, int(first.max_steps_in_episode), record_extras=True)
    key = jax.random.PRNGKey(eval_seed)
    ctx.log(f"sweep: evaluating {len(configs)} points on {episodes} held-out episodes each")
    agent = checkpoint_maker(ctx.agent)
    agent_held = player.play(
        recording(agent),
        diversity.stack(held.params),
        key,
        policy_args=ctx.params,
        seeds=True,
        points=True,
    )  # [P, S, T, E], ground truth recorded for the likelihood
    agent_train = _play_by_structure(
        player,
        recording(agent, record=False),
        train_params,
        key,
        lambda rows, _: _point_rows(ctx.params, rows),
        seeds=True,
    )
    learner_train = _play_by_structure(
        player,
        recording(reference_maker("ruleset_learner"), record=False),
        train_params,
        key,
        lambda _, stacked: (stacked, stacked),
        seeds=False,
    )
    locator_params = []
    for i, config in enumerate(configs):
        k = i if num_tasks_of(config) is not None else diversity.largest_pool_index(configs, i)
        locator_params.append(None if k is None else train_params[k])
    refs = play_references(player, held, locator_params, key)
    ctx.log("sweep: learner-vs-locator likelihood of every seed's held-out collections")
    points = []
    for i, config in enumerate(configs):
        measures = seed_measures(
            agent_held.rewards[i], agent_train[i], refs.rewards[i], learner_train[i], trial_length
        )
        record = _point_record(ctx.labels[i], config, measures, held, i)
        _add_likelihood(record, agent_held, i, held.params[i], locator_params[i], refs)
        record["references"] = reference_summary(refs.rewards[i], trial_length)
        record["references"]["ruleset_learner_train"] = float(episode_returns(learner_train[i]))
        curves = {"agent": agent_held.rewards[i], "agent_train": agent_train[i], **refs.rewards[i]}
        record["per_trial"] = {
            name: per_trial_returns(r, trial_length).mean(axis=-1) for name, r in curves.items()
        }
        points.append(record)
    rows = diversity.aggregate(points, MEASURES, gain_measures=GAINS)
    clean = diversity.clean_transition(rows)
    return {
        "format_version": FORMAT_VERSION,
        "sweep": ctx.sweep.name,
        "episodes": episodes,
        "eval_seed": eval_seed,
        "seeds_per_point": configs[0].run.num_seeds,
        "trial_length": trial_length,
        "num_trials": int(first.max_steps_in_episode) // trial_length,
        "prior_rulesets": _prior_rulesets(configs[0]),
        "points": points,
        "by_num_tasks": rows,
        "transition": (
            f"{diversity.transition_text(rows)} (a belief is named only where it also beats "
            f"distance alone); {clean['text']}"
        ),
        "clean_transition": clean,
    }


def _add_likelihood(record, agent_held, i, env_params, locator_params, refs) -> None:
    """The point's per-seed likelihood difference, and the same measured on the learner's and
    the locator's own episodes: the calibration that says whether the comparison can tell
    the two apart at this N (the learner should come out above 0, the locator below)."""
    seeds = seed_likelihoods(agent_held, i, env_params, locator_params)
    record["per_seed"]["likelihood_difference"] = np.array(
        [row["difference"].value for row in seeds]
    )
    for name, model in zip(GAINS, ("learner", "locator"), strict=True):
        record["per_seed"][name] = np.array(
            [row["belief_gain"][model].value if row["available"] else np.nan for row in seeds]
        )
    calibration = {
        "ruleset_learner": learner_vs_locator(refs.learner[i], env_params, locator_params)
    }
    if refs.locator[i] is not None:
        calibration["ruleset_locator"] = learner_vs_locator(
            refs.locator[i], env_params, locator_params
        )
    record["likelihood"] = {
        "per_seed": seeds,
        "stand_in": record["num_tasks"] == "inf",
        "calibration": calibration,
    }


def _prior_rulesets(config) -> int | None:
    """How many distinct rulesets the prior draws (what N = inf trains on)."""
    from metarl.envs.registry import env_config
    from metarl.envs.rule_grid_config import count_rulesets

    return count_rulesets(env_config(config.env.name, **config.env.overrides))


def _point_record(label, config, measures, held: HeldOutSets, i: int):
    """One point's record: what the shared table reads, and where its held-out set came from."""
    n = num_tasks_of(config)
    return {
        "label": label,
        "num_tasks": "inf" if n is None else int(n),
        "task_seed": config.env.overrides.get("task_seed"),
        "per_seed": measures,
        "held_out": {
            "source": held.source[i],
            "overlap_with_training_pool": held.overlap[i],
            # The prior holds every ruleset: an agent trained on it has seen the held-out ones.
            "unseen": n is not None,
        },
    }


# --------------------------------------------------------------------------- likelihood
def learner_vs_locator(rollouts, env_params, locator_params, seed: int = EVAL_SEED) -> dict:
    """Cross-validated log-likelihood per collection choice, ruleset learner - locator.

    ``rollouts`` are one agent's held-out episodes played with the rule-grid ground
    truth recorded (``recording``), ``[T, E]`` arrays; ``locator_params`` the env params
    whose (active) pool the locator searches, None when the point has none. Returns
    ``{"available", "reason", "difference" (Interval), "verdict", "num_choices"}``;
    the choice model and the beliefs are the ``rule_likelihood`` probe's.
    """
    from metarl.probes.rule_grid_beliefs import reward_prior, rule_grid_history, training_pool
    from metarl.probes.rule_likelihood import belief_values, choice_events, compare_rule_models

    pool = None if locator_params is None else training_pool(locator_params)
    if pool is None:
        return _not_available("no finite pool of its pool seed to locate")
    try:
        prior = reward_prior(env_params)
    except ValueError as error:  # a continuous reward prior: no learner to enumerate
        return _not_available(str(error))
    history = rule_grid_history(rollouts, env_params)
    events = choice_events(history, belief_values(history, prior, pool))
    if len(np.unique(events.episode)) < 4:
        return _not_available("fewer than 4 episodes with an unforced collection")
    span = float(env_params.reward_high - env_params.reward_low) or 1.0
    comparison = compare_rule_models(events, span, seed=seed)
    return {
        "available": True,
        "difference": comparison.difference,
        "belief_gain": comparison.belief_gain,
        "verdict": comparison.verdict,
        "num_choices": comparison.num_choices,
        "locator_rulesets": int(len(pool[0])),
    }


def _not_available(reason: str) -> dict[str, Any]:
    return {"available": False, "reason": reason, "difference": Interval(float("nan"))}


def seed_likelihoods(rollouts, index: int, env_params, locator_params) -> list[dict]:
    """``learner_vs_locator`` of every seed of point ``index`` (``rollouts`` ``[P, S, T, E]``)."""
    seeds = rollouts.rewards.shape[1]
    return [
        learner_vs_locator(_select(rollouts, (index, s)), env_params, locator_params)
        for s in range(seeds)
    ]


def _select(rollouts, where):
    """One agent's ``[T, E]`` episodes out of ``Rollouts`` with leading axes."""
    return rollouts.replace(
        rewards=rollouts.rewards[where],
        actions=rollouts.actions[where],
        info={k: v[where] for k, v in rollouts.info.items()},
        extras=jax.tree.map(lambda x: np.asarray(x)[where], rollouts.extras),
    )


# --------------------------------------------------------------------------- figure, table
PANELS = (
    diversity.Panel(
        "held_out_return",
        "held-out return",
        "total reward per episode",
        ("oracle_planner", "ruleset_learner", "ruleset_locator", "memoryless_collector", "random"),
    ),
    diversity.Panel(
        "held_out_improvement",
        "held-out per-trial improvement",
        "(last - first trial) / (oracle - random)",
        ("ruleset_learner_improvement", "ruleset_locator_improvement"),
        zero_line=True,
    ),
    diversity.Panel(
        "memorisation_advantage",
        "memorisation advantage",
        "(train - held-out) return gap vs learner",
        zero_line=True,
    ),
    diversity.Panel(
        "likelihood_difference",
        "learner - locator (inf: largest pool as stand-in)",
        "log-likelihood per choice (nats)",
        zero_line=True,
    ),
)
REFERENCE_STYLE = {
    "oracle_planner": ("oracle planner (told the ruleset)", "black"),
    "ruleset_learner": ("ruleset learner (Bayes, all rulesets)", "tab:green"),
    "ruleset_learner_improvement": ("ruleset learner (Bayes, all rulesets)", "tab:green"),
    "ruleset_locator": ("ruleset locator (N rulesets)", "tab:red"),
    "ruleset_locator_improvement": ("ruleset locator (N rulesets)", "tab:red"),
    "memoryless_collector": ("memoryless collector", "tab:orange"),
    "random": ("random", "0.5"),
}


def plot(summary: dict[str, Any], out_dir: Path) -> list[Path]:
    """``<out>/rule_grid_diversity.{png,pdf}`` and the per-N table ``rule_grid_diversity.md``."""
    rows = summary["by_num_tasks"]
    out_dir = Path(out_dir)
    table = out_dir / f"{FIGURE}.md"
    table.write_text(table_markdown(summary))
    return [
        *diversity.plot_panels(
            summary,
            out_dir,
            PANELS,
            REFERENCE_STYLE,
            stem=FIGURE,
            title=(
                f"Ruleset diversity (rule grid): {summary['seeds_per_point']} training seeds x "
                f"{len(rows[0]['pool_seeds'])} pool seeds per N, "
                f"{summary['env_steps_per_run'] / 1e6:.3g}M env steps per run, "
                f"{summary['episodes']} held-out episodes per seed"
            ),
            xlabel=f"training rulesets N (log scale; inf = all {summary['prior_rulesets']})",
            legend_loc=diversity.OUTSIDE,
        ),
        table,
    ]


def _cell(estimate: Any, spec: str) -> str:
    interval = estimate if isinstance(estimate, Interval) else Interval.from_json(estimate)
    if interval is None or not np.isfinite(interval.value):
        return "n/a"
    return Interval.format(interval, spec)


def table_markdown(summary: dict[str, Any]) -> str:
    """The per-N table (IQM [95% stratified bootstrap] over runs), then what it shows."""
    header = (
        "| N | runs | held-out return | per-trial improvement (x oracle-random gap) | "
        "per-trial improvement (reward) | memorisation advantage | learner - locator "
        "(nats/choice) | belief gain over distance, learner / locator (nats/choice) | verdict | "
        "learner / locator / oracle return |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in summary["by_num_tasks"]:
        iqm, refs = r["iqm"], r["references"]
        n = r["num_tasks"]
        label = "inf (prior; held-out seen, stand-in locator)" if n == "inf" else str(n)
        lines.append(
            f"| {label} | {r['runs']} | {_cell(iqm['held_out_return'], '.2f')} | "
            f"{_cell(iqm['held_out_improvement'], '+.3f')} | "
            f"{_cell(iqm['held_out_improvement_raw'], '+.2f')} | "
            f"{_cell(iqm['memorisation_advantage'], '+.2f')} | "
            f"{_cell(iqm['likelihood_difference'], '+.3f')} | "
            f"{_cell(iqm['learner_belief_gain'], '+.3f')} / "
            f"{_cell(iqm['locator_belief_gain'], '+.3f')} | {r['verdict']} | "
            f"{refs.get('ruleset_learner', float('nan')):.2f} / "
            f"{refs.get('ruleset_locator', float('nan')):.2f} / "
            f"{refs.get('oracle_planner', float('nan')):.2f} |"
        )
    return (
        header
        + "\n".join(lines)
        + f"\n\n{summary['env_steps_per_run']:,} env steps per run, {summary['episodes']} "
        f"held-out episodes per seed. {summary['clean_transition']['text']}.\n"
    )
