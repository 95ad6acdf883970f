"""What a probe is: ``Probe`` (name, families, verdicts, run, format, plot), its context and result.

A probe module (``metarl/probes/<name>.py``) keeps its analysis and, beside it, one
``PROBE = Probe(...)``; ``metarl.probes.registry`` collects them. Everything else
is derived from those objects: the per-family probe lists and their run order,
the verdict tables, the descriptions, the CLI epilog and the text summary.

``run(ctx) -> ProbeResult`` plays the checkpoint and references of known
mechanism on the episodes ``ctx.key`` draws and returns numbers (intervals as
``metarl.interval.Interval``), a ``Verdict`` from ``allowed_verdicts``, and
optional arrays. ``format(summary) -> list[str]`` gives the text lines under the
verdict, from the written ``summary.json`` alone; ``draw(fig, summary, arrays)``
fills the figure ``plot(directory)`` saves, from the probe directory's files alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from metarl.evaluation.rollout import EpisodeBatch
from metarl.probes.figures import draw_probe_figure


@dataclasses.dataclass(frozen=True)
class Verdict:
    label: str
    """One of the probe's ``allowed_verdicts`` (checked when the summary is written)."""
    reason: str
    """One line: the numbers the label rests on."""


@dataclasses.dataclass
class ProbeResult:
    results: dict
    verdict: Verdict | None
    """None when the probe was skipped."""
    references: dict[str, str] = dataclasses.field(default_factory=dict)
    """Reference agent name -> its mechanism in a few words."""
    arrays: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    status: str = "done"
    reason: str | None = None
    timing: dict = dataclasses.field(default_factory=dict)


def skipped(reason: str) -> ProbeResult:
    """The result of a probe that does not apply to this run's setting (written, no figure)."""
    return ProbeResult(results={}, verdict=None, status="skipped", reason=reason)


@dataclasses.dataclass
class ProbeContext:
    """What every probe of one ``metarl probe`` call shares."""

    frozen: Any
    """``metarl.runner.frozen.FrozenRun``: config, agent, training env, params [num_seeds, ...]."""
    family: str
    params: Any
    """The probed training seed's params (no seed axis)."""
    seed_index: int
    seed: int
    num_episodes: int
    key: Any
    """``PRNGKey(seed)``: every agent of every probe plays the episodes this key draws."""
    suite: Any
    env: Any
    env_params: Any
    train_params: Any
    num_steps: int
    log: Callable[[str], None]
    cache: dict = dataclasses.field(default_factory=dict)
    """Rollouts shared by the probes of one call (the same programs on the same key)."""

    @property
    def config(self):
        return self.frozen.config

    @property
    def agent(self):
        return self.frozen.agent

    @property
    def train_env(self):
        """The RL^2-wrapped env the checkpoint trained on (its observation interface)."""
        return self.frozen.env

    def policy(self):
        from metarl.evaluation.agent_policy import agent_policy

        return agent_policy(self.agent, self.params)

    def player(self, env=None, *, extras: bool = False, observations: bool = False):
        """The one ``evaluation.play.Player`` for ``env`` (default: the probe suite's) in this call.

        ``extras``/``observations``: record the policy's extras (hidden states, ground
        truth) and the RL^2 observations. Players are shared by the probes of one call,
        so a program compiled for one probe serves the next.
        """
        from metarl.evaluation.play import Player

        env = self.env if env is None else env
        players = self.cache.setdefault("players", {})
        key = (id(env), extras, observations)
        if key not in players:
            player = Player(
                env,
                self.num_episodes,
                self.num_steps,
                record_extras=extras,
                record_observations=observations,
            )
            players[key] = (env, player)  # env held: id(env) stays this env's for the call
        return players[key][1]

    def play(self, make_policy, env_params, policy_args=None, *, env=None, **record):
        """``make_policy(policy_args)`` on the probe episodes (``ctx.key``): a host ``EpisodeBatch``.

        The policy's arrays (a checkpoint's params, a hazard) are the compiled
        program's arguments, so one compile serves every value (both conditions of
        a probe, both hazards of a reference). ``record``: ``extras``, ``observations``.
        """
        player = self.player(env, **record)
        if policy_args is None:
            rollouts = player.play_policy(make_policy, env_params, self.key)
        else:
            rollouts = player.play(make_policy, env_params, self.key, policy_args=policy_args)
        return episode_batch(rollouts)


def episode_batch(rollouts) -> EpisodeBatch:
    """The player's host ``Rollouts`` as the ``EpisodeBatch`` the analyses (and replays) take."""
    return EpisodeBatch(
        actions=rollouts.actions,
        rewards=rollouts.rewards,
        info=rollouts.info,
        extras=rollouts.extras,
        observations=rollouts.observations,
    )


def hidden_states(hidden) -> np.ndarray:
    """[T, B, H] float32 hidden state, whatever the core's carry shape per step."""
    hidden = np.asarray(hidden, np.float32)
    return hidden.reshape(hidden.shape[0], hidden.shape[1], -1)


@dataclasses.dataclass(frozen=True)
class Probe:
    """One probe: what it applies to, what it may conclude, and how it runs, reads and draws."""

    name: str
    families: tuple[str, ...]
    """Env families it applies to ('bandit', 'two_step', 'maze', ...)."""
    allowed_verdicts: tuple[str, ...]
    """Every verdict label it may give (a skipped probe has none)."""
    description: str
    """One line, printed before it runs and at the head of its summary."""
    run: Callable[[ProbeContext], ProbeResult]
    format: Callable[[dict], list[str]]
    """``summary -> lines`` under the verdict line: the checkpoint beside the references."""
    draw: Callable[[Any, dict, dict], None]
    """``(figure, summary, arrays) -> None``: fills the probe's figure."""
    figure_size: tuple[float, float] = (12.0, 4.8)

    def verdict_json(self, verdict: Verdict) -> dict:
        """The summary's ``verdict`` entry; refuses a label outside ``allowed_verdicts``."""
        if verdict.label not in self.allowed_verdicts:
            raise ValueError(
                f"probe {self.name!r} gave verdict {verdict.label!r}, not one of "
                f"{list(self.allowed_verdicts)}"
            )
        return {
            "label": verdict.label,
            "reason": verdict.reason,
            "allowed": list(self.allowed_verdicts),
        }

    def plot(self, directory: str | Path, formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
        """Draw ``<directory>/<name>.{png,pdf}`` from its files; [] for a skipped probe."""
        return draw_probe_figure(Path(directory), self.draw, self.figure_size, formats)


# ------------------------------------------------------------------ text of a summary


def text_number(value, spec: str = ".3f") -> str:
    """A number for the text summary; 'n/a' where JSON has null (NaN: no data)."""
    return "n/a" if value is None else format(value, spec)


def text_interval(entry: dict, spec: str = ".3f") -> str:
    """'+value [+low, +high]' of an ``Interval`` JSON entry."""
    signed = "+" + spec
    return (
        f"{text_number(entry['value'], signed)} "
        f"[{text_number(entry['low'], signed)}, {text_number(entry['high'], signed)}]"
    )


def text_plus_minus(entry: dict, spec: str = ".3f") -> str:
    """'+value +- half-width' of a symmetric ``Interval`` JSON entry."""
    low, high = entry["low"], entry["high"]
    half = None if low is None or high is None else (high - low) / 2.0
    return f"{text_number(entry['value'], '+' + spec)} +- {text_number(half, spec)}"
