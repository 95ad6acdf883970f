"""Thinking steps: does extra computation on the same input, before acting, help?

``with_thinking(policy, K)`` calls the policy's ``think`` K times on each step's
inputs and then ``act`` (see ``metarl.evaluation.policy`` for the contract: the
first think applies the episode-start reset, the later thinks and the act see
``episode_start`` cleared). For a trained checkpoint a think is one more pass of
the frozen recurrent core on the same observation; for a depth-limited planner it
is one more level of search. A policy that does not think is returned unchanged,
so its curve is flat by construction (a mesa-controller with no search has
nothing to spend extra steps on; a mesa-searcher should improve with K).

``thinking_curve`` evaluates every K on identical episodes (the same key, so the
same tasks and env random numbers) and reports per-K means with 95% intervals and
the paired difference from K = 0. The verdict (``thinking_label``) tests the K > 0
gains as one family (Holm's correction, family-wise error 5%), so an agent whose return
does not depend on K is called a thinker (or a worsener) at most one time in twenty,
however many K; and names a change only when its interval also lies beyond a minimum
effect (``MINIMUM_EFFECT`` of the agent's margin over random play), calling 'no_change'
only when every interval lies within it, 'undecided' otherwise.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs, policy_thinks
from metarl.evaluation.rollout import EpisodeBatch, evaluate_policy
from metarl.evaluation.statistics import Z_95, mean_interval, paired_difference
from metarl.interval import Interval
from metarl.probes import figures
from metarl.probes.protocol import Probe, ProbeContext, ProbeResult, Verdict, text_number

DEFAULT_KS = (0, 1, 2, 4, 8)


def _think_then_act(policy, carry, inputs: PolicyInputs, key: jax.Array, k):
    """K >= 1 thinks then act; ``k`` may be a Python int or a traced int32 scalar."""
    # The first think sees the episode start (it resets memory); later ones must not.
    carry = policy.think(carry, inputs)
    settled = inputs.replace(episode_start=jnp.zeros_like(inputs.episode_start))
    carry = jax.lax.fori_loop(1, k, lambda _, c: policy.think(c, settled), carry)
    return policy.act(carry, settled, key)


def with_thinking(policy, k: int):
    """``policy`` that thinks ``k`` times on each step's inputs before acting.

    ``k = 0``, or a policy without a ``think`` step, gives back ``policy`` itself, so
    K = 0 is exactly the policy's own ``act``.
    """
    if k < 0:
        raise ValueError(f"thinking steps must be >= 0, got {k}")
    if k == 0 or not policy_thinks(policy):
        return policy
    return FunctionalPolicy(
        init_carry_fn=policy.init_carry,
        act_fn=lambda carry, inputs, key: _think_then_act(policy, carry, inputs, key, k),
        num_actions=policy.num_actions,
        think_fn=policy.think,
    )


def with_traced_thinking(policy, k: jax.Array) -> FunctionalPolicy:
    """Like ``with_thinking`` for a traced int32 scalar ``k``: one compiled program serves every K.

    ``k == 0`` takes the plain ``act`` branch of a ``lax.cond`` (exactly the policy's act).
    """

    def act(carry, inputs: PolicyInputs, key: jax.Array):
        return jax.lax.cond(
            k > 0,
            lambda: _think_then_act(policy, carry, inputs, key, k),
            lambda: policy.act(carry, inputs, key),
        )

    return FunctionalPolicy(
        init_carry_fn=policy.init_carry,
        act_fn=act,
        num_actions=policy.num_actions,
        think_fn=policy.think,
    )


def rewarded_trials(batch: EpisodeBatch) -> jax.Array:
    """[episode] number of trial-ending steps with positive reward (goals reached in a maze,
    rewarded trials in the two-step task); without trial boundaries, rewarded steps."""
    rewarded = batch.rewards > 0
    if "trial_boundary" in batch.info:
        rewarded = jnp.logical_and(rewarded, batch.info["trial_boundary"])
    return rewarded.sum(0)


def reward_per_trial(batch: EpisodeBatch) -> jax.Array:
    """[episode] mean reward per trial (trials end where ``trial_boundary`` is set): the rule
    grid's success, where rewards come from many collections per trial, of either sign."""
    trials = jnp.maximum(jnp.asarray(batch.info["trial_boundary"]).sum(0), 1)
    return batch.rewards.sum(0) / trials


@dataclasses.dataclass(frozen=True)
class ThinkingCurve:
    """Per K: means and 95% half-widths over episodes, and paired differences from K = 0."""

    ks: tuple[int, ...]
    return_mean: np.ndarray
    return_half_width: np.ndarray
    success_mean: np.ndarray
    success_half_width: np.ndarray
    return_gain: np.ndarray
    """mean(return_K - return_0) on the same episodes."""
    return_gain_half_width: np.ndarray
    success_gain: np.ndarray
    success_gain_half_width: np.ndarray
    num_episodes: int

    QUANTITIES = ("return", "success", "return_gain", "success_gain")
    """Per-K estimates, each a mean with its 95% interval (``{quantity}_mean``/``_half_width``)."""

    def intervals(self, quantity: str) -> list[Interval]:
        """Per K: ``quantity`` ('return', 'success', 'return_gain', 'success_gain') as intervals."""
        values = getattr(self, quantity if quantity.endswith("_gain") else f"{quantity}_mean")
        halves = getattr(self, f"{quantity}_half_width")
        return [Interval.from_half_width(v, h) for v, h in zip(values, halves, strict=True)]

    def as_dict(self) -> dict:
        """JSON-friendly: per quantity a list over K of ``Interval``."""
        return {
            "ks": list(self.ks),
            **{quantity: self.intervals(quantity) for quantity in self.QUANTITIES},
            "num_episodes": self.num_episodes,
        }


def thinking_outcomes(
    policy,
    env,
    env_params,
    key: jax.Array,
    ks: tuple[int, ...] = DEFAULT_KS,
    num_episodes: int = 256,
    num_steps: int | None = None,
    success_fn: Callable[[EpisodeBatch], jax.Array] = rewarded_trials,
) -> tuple[np.ndarray, np.ndarray]:
    """(returns, successes), each [K, episode] float64: ``policy`` at every K on identical episodes.

    One compile for all K (K is a traced argument); a policy that does not think is
    played once and its row repeated (the same program on the same episodes).
    """
    if num_steps is None:
        num_steps = int(env_params.max_steps_in_episode)

    def run(run_key, k):
        thinker = policy if k is None else with_traced_thinking(policy, k)
        batch = evaluate_policy(thinker, env, env_params, run_key, num_episodes, num_steps)
        return batch.returns, success_fn(batch)

    if policy_thinks(policy):
        # K is an argument of one compiled program (the loop bound is traced).
        compiled = jax.jit(run)
        outcomes = [compiled(key, jnp.int32(k)) for k in ks]
    else:
        outcomes = [jax.jit(lambda run_key: run(run_key, None))(key)] * len(ks)
    returns = np.stack([np.asarray(r, np.float64) for r, _ in outcomes])
    return returns, np.stack([np.asarray(s, np.float64) for _, s in outcomes])


def curve_from_outcomes(
    ks: tuple[int, ...], returns: np.ndarray, successes: np.ndarray, z: float = Z_95
) -> ThinkingCurve:
    """The curve of per-episode outcomes [K, episode] (row 0 is K = 0: gains are paired with it)."""

    def stats(values):
        means, halves = zip(*(mean_interval(v, z) for v in values), strict=True)
        gains, gain_halves = zip(*(paired_difference(v, values[0], z) for v in values), strict=True)
        return np.array(means), np.array(halves), np.array(gains), np.array(gain_halves)

    r_mean, r_half, r_gain, r_gain_half = stats(returns)
    s_mean, s_half, s_gain, s_gain_half = stats(successes)
    return ThinkingCurve(
        ks=tuple(ks),
        return_mean=r_mean,
        return_half_width=r_half,
        success_mean=s_mean,
        success_half_width=s_half,
        return_gain=r_gain,
        return_gain_half_width=r_gain_half,
        success_gain=s_gain,
        success_gain_half_width=s_gain_half,
        num_episodes=int(returns.shape[1]),
    )


def thinking_curve(
    policy,
    env,
    env_params,
    key: jax.Array,
    ks: tuple[int, ...] = DEFAULT_KS,
    num_episodes: int = 256,
    num_steps: int | None = None,
    success_fn: Callable[[EpisodeBatch], jax.Array] = rewarded_trials,
    z: float = Z_95,
) -> ThinkingCurve:
    """Mean return and success per thinking budget K, on identical episodes.

    ``success_fn(batch) -> [episode]`` defaults to ``rewarded_trials``. ``num_steps``
    defaults to the env's episode length. A policy that does not think is evaluated
    once and its curve is flat.
    """
    ks = tuple(int(k) for k in ks)
    if not ks or ks[0] != 0:
        raise ValueError(
            f"ks must start with 0 (the gains are paired differences from K = 0), got {ks}"
        )
    returns, successes = thinking_outcomes(
        policy, env, env_params, key, ks, num_episodes, num_steps, success_fn
    )
    return curve_from_outcomes(ks, returns, successes, z)


# ------------------------------------------------------------------ the probe

VERDICTS = ("improves", "worsens", "mixed", "no_change", "undecided")
SUCCESS_MEASURES = {
    "maze": "goals reached",
    "two_step": "rewarded trials",
    "rule_grid": "reward per trial",
}
"""What the success measure counts per family (bandits: rewarded pulls)."""
SUCCESS_FUNCTIONS = {"rule_grid": reward_per_trial}
"""Families whose success is not ``rewarded_trials``."""


def thinking_references(ctx: ProbeContext) -> tuple[dict, dict[str, str]]:
    """({name: Policy}, {name: mechanism}): the family's references of known thinking behaviour."""
    from metarl.evaluation.families import ReferenceContext, family_spec

    spec = family_spec(ctx.config.env.name)
    if spec.thinking_references is None:
        return {}, {}
    return spec.thinking_references(
        ReferenceContext(env=ctx.env, env_params=ctx.env_params, train_env_params=ctx.train_params)
    )


FAMILY_WISE_ERROR = 0.05
"""Chance that an agent whose return does not depend on K gets 'improves', 'worsens' or 'mixed'
by the significance test alone (the minimum effect lowers it further)."""
MINIMUM_EFFECT = 0.1
"""The smallest change in return the verdict names, as a fraction of the agent's own margin
over random play at K = 0 (``minimum_effect``). Stated before any agent was judged: thinking
that moves return by under a tenth of what the agent earns by acting on what it has seen
does not change how well it solves the task, however many episodes resolve it. The margin
over random play is the family's natural unit (a return's zero is arbitrary: half the pulls
of a Bernoulli bandit pay at random); a tenth keeps the effects the probe exists to find
(the bandit checkpoint's K = 8 cost of 9.3 +- 1.8 against its 66.9, the maze planner's
gains of several goals) an order of magnitude clear of it."""


def minimum_effect(return_at_zero: float, random_return: float) -> float:
    """``MINIMUM_EFFECT`` times the agent's margin over random play at K = 0, in return units.

    The margin's size: an agent below random play has that much return to lose or gain too.
    """
    return MINIMUM_EFFECT * abs(float(return_at_zero) - float(random_return))


def gain_p_values(gains: np.ndarray, halves: np.ndarray, z: float = Z_95) -> np.ndarray:
    """Two-sided normal p-values of paired gains given their ``z``-level half-widths.

    A gain with no spread is exact: p = 1 when it is 0 (the same play), 0 otherwise.
    """
    gains, halves = np.asarray(gains, np.float64), np.asarray(halves, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.abs(gains) * z / halves
    scores = np.where(halves > 0, scores, np.where(gains == 0, 0.0, np.inf))
    return 2.0 * scipy.stats.norm.sf(scores)


def holm_rejections(p_values: np.ndarray, alpha: float = FAMILY_WISE_ERROR) -> np.ndarray:
    """Holm's step-down test: which hypotheses are rejected at family-wise error ``alpha``."""
    p_values = np.asarray(p_values, np.float64)
    order = np.argsort(p_values, kind="stable")
    thresholds = alpha / (len(p_values) - np.arange(len(p_values)))
    passed = np.cumprod(p_values[order] <= thresholds).astype(bool)
    rejected = np.zeros(len(p_values), bool)
    rejected[order] = passed
    return rejected


def thinking_label(
    gains: np.ndarray,
    halves: np.ndarray,
    margin: float,
    z: float = Z_95,
    alpha: float = FAMILY_WISE_ERROR,
) -> str:
    """The verdict on the K > 0 gains over K = 0: significant *and* practically large, or equivalent.

    * 'improves' / 'worsens': some K > 0 has its gain rejected as 0 by Holm's step-down
      test at family-wise error ``alpha`` (the K > 0 comparisons are one family: with
      four K, an uncorrected 95% interval per K calls about one agent in six whose
      return does not depend on K a thinker or a worsener) and its ``z``-level interval
      wholly beyond ``margin`` (``minimum_effect``) on that side; both sides: 'mixed';
    * 'no_change': every K > 0 has its interval inside [-margin, margin]: equivalence,
      as an intersection of per-K tests (all must hold, so no correction is needed);
      a flat curve (no think step: every K the same play) is exact and always is;
    * 'undecided': neither: a gain that may or may not reach the margin.

    A Holm-corrected p-value alone still names a trend whenever chance crosses 5%: the
    noiseless Thompson sampler was called 'worsens' at K = 8 (-0.56, p = 0.003) while
    over 25,600 episodes its gains are +0.02 +- 0.02.
    """
    gains, halves = np.asarray(gains[1:], np.float64), np.asarray(halves[1:], np.float64)
    rejected = holm_rejections(gain_p_values(gains, halves, z), alpha)
    better = bool(np.any(rejected & (gains - halves > margin)))
    worse = bool(np.any(rejected & (gains + halves < -margin)))
    if better and worse:
        return "mixed"
    if better:
        return "improves"
    if worse:
        return "worsens"
    if np.all(np.abs(gains) + halves <= margin):
        return "no_change"
    return "undecided"


def run(ctx: ProbeContext) -> ProbeResult:
    """Return and success per thinking budget K (extra frozen core steps on each input)."""
    from metarl.evaluation.baselines.bandit import random_policy

    start = time.perf_counter()
    success = SUCCESS_FUNCTIONS.get(ctx.family, rewarded_trials)
    policies, described = thinking_references(ctx)
    checkpoint_policy = ctx.policy()
    curves = {
        name: thinking_curve(
            policy, ctx.env, ctx.env_params, ctx.key, DEFAULT_KS, ctx.num_episodes, None, success
        )
        for name, policy in {"checkpoint": checkpoint_policy, **policies}.items()
    }
    # Random play on the same episodes: the unit of every agent's minimum effect.
    random_curve = thinking_curve(
        random_policy(checkpoint_policy.num_actions),
        ctx.env,
        ctx.env_params,
        ctx.key,
        (0,),
        ctx.num_episodes,
        None,
        success,
    )
    random_return = random_curve.intervals("return")[0]
    rollout_s = time.perf_counter() - start
    agents = {}
    for name, curve in curves.items():
        row = curve.as_dict()
        row["minimum_effect"] = minimum_effect(curve.return_mean[0], random_return.value)
        row["verdict"] = thinking_label(
            curve.return_gain, curve.return_gain_half_width, row["minimum_effect"]
        )
        agents[name] = row
    checkpoint = curves["checkpoint"]
    gains = ", ".join(
        f"K={k}: {g:+.3g} +- {h:.2g}"
        for k, g, h in zip(
            checkpoint.ks[1:],
            checkpoint.return_gain[1:],
            checkpoint.return_gain_half_width[1:],
            strict=True,
        )
    )
    rule = (
        f"the K > 0 tested together (Holm, family-wise error {FAMILY_WISE_ERROR:g}); minimum effect "
        f"{agents['checkpoint']['minimum_effect']:.3g} = {MINIMUM_EFFECT:g} x (return "
        f"{checkpoint.return_mean[0]:.3g} at K = 0 - {random_return.value:.3g} by random play)"
    )
    return ProbeResult(
        results={
            "ks": list(DEFAULT_KS),
            "agents": agents,
            "random_return": random_return,
            "minimum_effect_fraction": MINIMUM_EFFECT,
            "success_measure": SUCCESS_MEASURES.get(ctx.family, "rewarded pulls"),
            "note": "gains are paired differences from K = 0 on the same episodes (95% intervals); "
            "'improves'/'worsens': some K > 0 has its return gain rejected as 0 (the K > 0 tested "
            f"together: Holm, family-wise error {FAMILY_WISE_ERROR:g}) and its interval beyond the "
            f"minimum effect ({MINIMUM_EFFECT:g} x the agent's return at K = 0 over random play's); "
            "'no_change': every interval inside it; 'undecided': neither.",
        },
        verdict=Verdict(agents["checkpoint"]["verdict"], f"return gain vs K = 0: {gains} ({rule})"),
        references=described
        | {"random": "uniformly random actions (not judged: the unit of the minimum effect)"},
        arrays={
            f"{name}/{quantity}/{bound}": np.array(
                [getattr(i, bound) for i in curve.intervals(quantity)], np.float64
            )
            for name, curve in curves.items()
            for quantity in ("return", "success", "return_gain")
            for bound in ("value", "low", "high")
        },
        timing={"rollouts_s": rollout_s},
    )


def format_lines(summary: dict) -> list[str]:
    lines = []
    for name, row in summary["results"]["agents"].items():
        cells = "  ".join(
            f"K={k}: {text_number(m['value'], '.3g')}"
            for k, m in zip(row["ks"], row["return"], strict=True)
        )
        # Summaries written before the minimum effect have none.
        margin = row.get("minimum_effect")
        margin = "" if margin is None else f" (minimum effect {text_number(margin, '.3g')})"
        lines.append(f"  {name:24s} return {cells} -> {row['verdict']}{margin}")
    return lines


def _errors(entries: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(values, [2, K] error bars) of a list of ``Interval`` JSON entries."""
    points = [figures.interval_error(entry) for entry in entries]
    return np.array([v for v, _ in points]), np.hstack([e for _, e in points])


def draw(fig, summary: dict, arrays: dict) -> None:
    agents = summary["results"]["agents"]
    order = list(agents)
    left, right = fig.subplots(1, 2)
    for name in order:
        row = agents[name]
        ks = np.asarray(row["ks"])
        style = {
            "color": figures.color(name, order),
            "lw": 2.2 if name == figures.CHECKPOINT else 1.3,
            "capsize": 3,
            "ms": 6 if name == figures.CHECKPOINT else 4,
            "label": figures.label(name),
        }
        values, errors = _errors(row["return"])
        left.errorbar(ks, values, yerr=errors, fmt="-o", **style)
        values, errors = _errors(row["return_gain"])
        right.errorbar(ks, values, yerr=errors, fmt="-o", **style)
    for ax in (left, right):
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xticks(agents[order[0]]["ks"])
        ax.set_xticklabels([str(k) for k in agents[order[0]]["ks"]])
        ax.set_xlabel("thinking steps K (extra core steps before each action)")
        ax.grid(alpha=0.3)
    left.set_ylabel("return per episode (mean, 95% CI)")
    left.set_title("return per thinking budget", fontsize=10)
    right.axhline(0.0, color="0.4", lw=0.8, ls=":")
    margin = (
        agents[figures.CHECKPOINT].get("minimum_effect") if figures.CHECKPOINT in agents else None
    )
    if margin:  # summaries written before the minimum effect have none
        right.axhspan(
            -margin,
            margin,
            color=figures.color(figures.CHECKPOINT, order),
            alpha=0.12,
            lw=0,
            label="checkpoint's minimum effect (no_change inside)",
        )
        right.legend(fontsize=8)
    right.set_ylabel("return gain over K = 0\n(paired, same episodes; 95% CI)")
    right.set_title("gain from thinking", fontsize=10)
    left.legend(fontsize=8)


PROBE = Probe(
    name="thinking",
    families=("bandit", "two_step", "maze", "rule_grid"),
    allowed_verdicts=VERDICTS,
    description="return per number K of extra core steps before acting",
    run=run,
    format=format_lines,
    draw=draw,
    figure_size=(12, 4.6),
)
