"""Mesa-learner or task locator? Which of the two explains an agent's choices better.

A meta-trained bandit player may have learned a general learner (acting on the
Beta posterior of each arm, like a Bayes learner over the prior) or a task
locator (recognising which of its N training tasks it is in and playing that
task's best arm). On tasks outside the training pool the two predict different
choices. ``compare_learner_vs_locator`` fits each model's inverse temperature by
maximum likelihood and compares their per-choice log-likelihood of the agent's
choices.

The comparison is two-fold cross-validated by default: episodes are split at
random into halves, each model's temperature is fitted on one half and scored on
the other (then the other way round), so every episode's score is out of sample
and neither model can win by overfitting. Both models have exactly one free
parameter, so the held-out likelihoods compare directly. The verdict is
``"learner"`` or ``"locator"`` only when the 95% interval of the per-episode mean
log-likelihood difference (learner - locator, per choice) excludes zero *and* the
named belief adds at least ``MIN_GAIN`` to the memoryless floor
(``metarl.probes.memoryless_floor``: the
best account of the choices from the previous action, reward and time alone; the
belief's gain is the floor-plus-belief model's held-out log-likelihood over the
floor's). Against uniform choice alone a memoryless win-stay/lose-shift player
earned 'learner'.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from metarl.evaluation.statistics import mean_interval
from metarl.interval import Interval
from metarl.probes import choice_models, figures, memoryless_floor, model_fit
from metarl.probes.bandit_agents import bandit_episodes, bandit_setting
from metarl.probes.protocol import (
    Probe,
    ProbeContext,
    ProbeResult,
    Verdict,
    skipped,
    text_interval,
)

VERDICTS = ("learner", "locator", "undecided")
MIN_GAIN = 1e-3
"""Nats per choice a belief must add to the memoryless floor (its interval's lower end) to
be named: 0.1 nats over a 100-pull episode. On win-stay lose-shift the fitted gains are
fitting residue, at most 5e-5 with intervals of a few 1e-6 (adversarial grid, 256
episodes); agents with a belief gained 0.009 (a locator trained on 8 tasks) and more."""

_bayes_values = jax.jit(choice_models.bayes_learner_values, static_argnames=("num_arms",))
_locator_values = jax.jit(choice_models.task_locator_values, static_argnames=("reward_type",))
_log_probs = jax.jit(choice_models.softmax_log_probs)


@dataclasses.dataclass(frozen=True)
class LikelihoodComparison:
    """Bayes learner vs task locator as explanations of one set of choices."""

    learner_inverse_temperature: float
    """Bayes learner's ML inverse temperature on all episodes."""
    locator_inverse_temperature: float
    """Task locator's ML inverse temperature on all episodes."""
    learner_log_lik_per_choice: float
    """Bayes learner: mean log-probability of a choice (held out when cross-validated)."""
    locator_log_lik_per_choice: float
    """Task locator: mean log-probability of a choice (held out when cross-validated)."""
    difference: float
    """Mean over episodes of the per-choice log-likelihood difference, learner - locator."""
    half_width: float
    """Half-width of the 95% interval of ``difference`` (normal approximation over episodes)."""
    verdict: str
    """'learner' if the interval is above 0, 'locator' if below, else 'undecided'."""
    memoryless_log_lik_per_choice: float
    """The memoryless floor's mean log-probability of a choice (held out when cross-validated)."""
    learner_gain: float
    """Mean over episodes of the per-choice held-out log-likelihood gain of the floor plus
    the learner's belief over the floor alone (what the belief adds to the last step)."""
    learner_gain_half_width: float
    locator_gain: float
    """The same for the locator's belief."""
    locator_gain_half_width: float
    difference_by_step: np.ndarray
    """[T] mean over episodes of the log-likelihood difference at each step (when the models part)."""
    num_episodes: int
    cross_validated: bool

    @property
    def interval(self) -> tuple[float, float]:
        return self.difference - self.half_width, self.difference + self.half_width

    @property
    def difference_interval(self) -> Interval:
        return Interval.from_half_width(self.difference, self.half_width)

    @property
    def gain_intervals(self) -> dict[str, Interval]:
        """What each belief adds to the memoryless floor, per choice (95% over episodes)."""
        return {
            "learner": Interval.from_half_width(self.learner_gain, self.learner_gain_half_width),
            "locator": Interval.from_half_width(self.locator_gain, self.locator_gain_half_width),
        }

    def summary(self) -> dict:
        """JSON-friendly: scalars, the per-step curve, the difference and gains as ``Interval``s."""
        row = dataclasses.asdict(self)
        row["difference_by_step"] = [float(x) for x in self.difference_by_step]
        # one interval encoding: each interval carries its own bounds
        for name in ("half_width", "learner_gain_half_width", "locator_gain_half_width"):
            del row[name]
        row["difference"] = self.difference_interval
        row["learner_gain"], row["locator_gain"] = self.gain_intervals.values()
        return row


def verdict_from_interval(
    difference: float,
    half_width: float,
    learner_gain: Interval | None = None,
    locator_gain: Interval | None = None,
) -> str:
    """'learner' / 'locator' where the difference's interval excludes 0 and (when given)
    the named belief's gain beyond the memoryless floor lies above ``MIN_GAIN``; else
    'undecided'."""
    if difference - half_width > 0:
        verdict, gain = "learner", learner_gain
    elif difference + half_width < 0:
        verdict, gain = "locator", locator_gain
    else:
        return "undecided"
    return verdict if gain is None or gain.above(MIN_GAIN) else "undecided"


def _belief_log_probs(values, actions, halves, beta: float) -> np.ndarray:
    """[T, B] log-probability of each choice under softmax(beta * values): held out when
    ``halves`` are given (the temperature fitted on the other half), else at ``beta``."""
    if halves is None:
        return np.asarray(_log_probs(values, actions, jnp.float32(beta)), np.float64)
    out = np.zeros(actions.shape)
    for fit_half, score_half in (halves, halves[::-1]):
        weights = np.zeros(actions.shape[1])
        weights[fit_half] = 1.0
        fitted, _ = model_fit.fit_inverse_temperature(values, actions, weights)
        out[:, score_half] = np.asarray(_log_probs(values, actions, jnp.float32(fitted)))[
            :, score_half
        ]
    return out


def compare_learner_vs_locator(
    actions,
    rewards,
    training_task_means,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
    cross_validate: bool = True,
    seed: int = 0,
    episode_start=None,
) -> LikelihoodComparison:
    """Which model explains the choices better: Bayes learner or task locator over the training tasks.

    ``actions``, ``rewards`` [T, B] are one episode per column (Bernoulli 0/1
    rewards: divide out any ``reward_scale``); ``training_task_means`` [N, k] are the
    arm means of the agent's training pool (``params.task_pool.means``). The
    learner uses a Beta(prior_a, prior_b) prior per arm. ``seed`` fixes the random
    split of episodes into the two cross-validation halves.
    """
    if training_task_means is None:
        raise ValueError(
            "compare_learner_vs_locator needs the finite training pool's means [N, k] "
            "(params.task_pool.means); an agent trained on the infinite prior has no tasks to locate"
        )
    actions = jnp.asarray(actions, jnp.int32)
    rewards = jnp.asarray(rewards, jnp.float32)
    task_means = jnp.asarray(training_task_means, jnp.float32)
    num_steps, num_episodes = actions.shape
    num_arms = task_means.shape[1]
    if cross_validate and num_episodes < 4:
        raise ValueError(f"cross-validation needs at least 4 episodes, got {num_episodes}")
    learner_values = _bayes_values(actions, rewards, num_arms, prior_a, prior_b, episode_start)
    locator_values = _locator_values(actions, rewards, task_means, "bernoulli", 1.0, episode_start)

    beliefs = {"learner": learner_values, "locator": locator_values}
    learner_beta, _ = model_fit.fit_inverse_temperature(learner_values, actions)
    locator_beta, _ = model_fit.fit_inverse_temperature(locator_values, actions)

    halves = None
    if cross_validate:
        order = np.random.default_rng(seed).permutation(num_episodes)
        halves = (order[: num_episodes // 2], order[num_episodes // 2 :])
    floor_log_probs, beyond = memoryless_floor.beyond_floor(
        actions, rewards, num_arms, beliefs, halves, episode_start
    )
    learner_log_probs, locator_log_probs = (
        _belief_log_probs(values, actions, halves, beta)
        for values, beta in ((learner_values, learner_beta), (locator_values, locator_beta))
    )

    per_step = learner_log_probs - locator_log_probs  # [T, B]
    difference, half_width = mean_interval(per_step.mean(axis=0))
    learner_gain, learner_gain_half = mean_interval((beyond["learner"] - floor_log_probs).mean(0))
    locator_gain, locator_gain_half = mean_interval((beyond["locator"] - floor_log_probs).mean(0))
    gains = {
        "learner_gain": Interval.from_half_width(learner_gain, learner_gain_half),
        "locator_gain": Interval.from_half_width(locator_gain, locator_gain_half),
    }
    return LikelihoodComparison(
        learner_inverse_temperature=learner_beta,
        locator_inverse_temperature=locator_beta,
        learner_log_lik_per_choice=float(learner_log_probs.mean()),
        locator_log_lik_per_choice=float(locator_log_probs.mean()),
        difference=difference,
        half_width=half_width,
        verdict=verdict_from_interval(difference, half_width, **gains),
        memoryless_log_lik_per_choice=float(floor_log_probs.mean()),
        learner_gain=learner_gain,
        learner_gain_half_width=learner_gain_half,
        locator_gain=locator_gain,
        locator_gain_half_width=locator_gain_half,
        difference_by_step=per_step.mean(axis=1),
        num_episodes=num_episodes,
        cross_validated=cross_validate,
    )


# ------------------------------------------------------------------ the probe


def run(ctx: ProbeContext) -> ProbeResult:
    """Bayes learner vs task locator as explanations of the choices, on held-out tasks."""
    s = bandit_setting(ctx)
    if s["pool_means"] is None:
        return skipped(
            "the run trained on the infinite prior (env.overrides.num_tasks unset): there is no "
            "finite training pool whose tasks a locator could recognise, so learner vs locator is undefined"
        )
    if s["reward_type"] != "bernoulli":
        return skipped("the learner/locator likelihoods are written for Bernoulli rewards")
    batches, described, rollouts_s = bandit_episodes(
        ctx, ("checkpoint", "thompson_sampling", "task_locator")
    )
    start = time.perf_counter()
    agents, arrays, comparisons = {}, {}, {}
    for name, batch in batches.items():
        comparison = compare_learner_vs_locator(
            batch.actions,
            np.asarray(batch.rewards) / s["reward_scale"],
            s["pool_means"],
            s["prior_a"],
            s["prior_b"],
            seed=ctx.seed,
        )
        row = comparison.summary()
        by_step = row.pop("difference_by_step")
        arrays[f"{name}/difference_by_step"] = np.asarray(by_step, np.float64)
        agents[name] = row
        comparisons[name] = comparison
    checkpoint = comparisons["checkpoint"]
    reason = (
        "held-out log-likelihood per choice, learner - locator: "
        f"{checkpoint.difference_interval.format('+.4f')}"
    )
    return ProbeResult(
        results={
            "agents": agents,
            "training_pool_size": int(len(s["pool_means"])),
            "expected": {"thompson_sampling": "learner", "task_locator": "locator"},
        },
        verdict=Verdict(checkpoint.verdict, reason),
        references=described,
        arrays=arrays,
        timing={
            "rollouts_s": rollouts_s,
            "analysis_s": time.perf_counter() - start,
        },
    )


def _floor_text(row: dict) -> str:
    """The beliefs' gains over the memoryless floor (absent from summaries written before it)."""
    if "learner_gain" not in row:
        return ""
    return (
        f"; beyond the memoryless floor: learner {text_interval(row['learner_gain'], '.4f')},"
        f" locator {text_interval(row['locator_gain'], '.4f')}"
    )


def format_lines(summary: dict) -> list[str]:
    return [
        f"  {name:24s} learner - locator per choice {text_interval(row['difference'], '.4f')}"
        f"{_floor_text(row)} -> {row['verdict']}"
        for name, row in summary["results"]["agents"].items()
    ]


def draw(fig, summary: dict, arrays: dict) -> None:
    agents = summary["results"]["agents"]
    order = list(agents)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.25], "wspace": 0.28})
    figures.interval_rows(
        left,
        order,
        [agents[n]["difference"] for n in order],
        order,
        "log-likelihood per choice, learner - locator (nats)\n(held out, cross-validated; 95% CI;"
        " right: the verdict and what\neach belief adds to the memoryless floor, nats per choice)",
    )
    for row, name in zip(np.arange(len(order))[::-1], order, strict=True):
        gains = agents[name].get("learner_gain"), agents[name].get("locator_gain")
        beyond = (
            ""
            if gains[0] is None
            else f"\nadds to floor:\nlearner {gains[0]['value']:+.3f}\nlocator {gains[1]['value']:+.3f}"
        )
        left.annotate(
            agents[name]["verdict"] + beyond,
            (1.0, row),
            xycoords=("axes fraction", "data"),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    left.set_title("which model explains the choices better", fontsize=10)
    for name in order:
        curve = arrays.get(f"{name}/difference_by_step")
        if curve is not None:
            right.plot(
                np.arange(1, len(curve) + 1),
                curve,
                color=figures.color(name, order),
                lw=2.2 if name == figures.CHECKPOINT else 1.3,
                label=figures.label(name),
            )
    right.axhline(0.0, color="0.4", lw=0.8, ls=":")
    right.set_xlabel("pull within the episode (step)")
    right.set_ylabel("learner - locator log-likelihood\n(nats, mean over episodes)")
    right.set_title("where the two models part (> 0: learner better)", fontsize=10)
    right.legend(fontsize=8)
    right.grid(alpha=0.3)


PROBE = Probe(
    name="likelihood",
    families=("bandit",),
    allowed_verdicts=VERDICTS,
    description="Bayes learner vs task locator: which explains the choices on held-out tasks",
    run=run,
    format=format_lines,
    draw=draw,
    figure_size=(12, 4.6),
)
