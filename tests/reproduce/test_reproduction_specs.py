"""wang_volatility's and task_diversity_transition's claim rules on synthetic summaries.

Each rule is fed hand-built summaries (the shapes ``metarl.reproduce.volatility_blocks``
and ``metarl.reproduce.diversity_transition`` return) reaching every status it can
give; the specs themselves load, check and list before anything trains.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from metarl.reproduce import NOT_REPRODUCED, PARTLY, REPRODUCED
from metarl.reproduce.diversity_transition import crossing, noise_sources
from metarl.reproduce.registry import load_reproduction, reproduction_files
from metarl.reproduce.runner import prepare


def _module(name):
    from metarl.experiments import load_experiment_module

    return load_experiment_module(str(reproduction_files()[name]))


def _interval(value, low, high):
    return {"value": value, "low": low, "high": high}


# ------------------------------------------------------------------ wang_volatility
def _volatility(difference, excess):
    return {
        "volatility": {
            "difference": _interval(*difference),
            "excess_over_fixed": _interval(*excess),
            "interval_unit": "training seeds (synthetic)",
            "fixed_references": ["q_learning_fixed_rate", "bayes_hazard_0.05"],
        }
    }


@pytest.mark.parametrize(
    "difference, excess, faster, beyond",
    [
        ((0.3, 0.2, 0.4), (0.1, 0.05, 0.15), REPRODUCED, REPRODUCED),
        ((0.15, 0.1, 0.2), (-0.02, -0.06, 0.02), REPRODUCED, PARTLY),  # a fixed Bayesian's size
        ((0.05, -0.05, 0.15), (-0.1, -0.2, 0.0), PARTLY, NOT_REPRODUCED),
        ((-0.2, -0.3, -0.1), (-0.4, -0.5, -0.3), NOT_REPRODUCED, NOT_REPRODUCED),
        ((0.1, None, None), (0.1, None, None), PARTLY, NOT_REPRODUCED),  # one value, no interval
    ],
)
def test_wang_volatility_rules(difference, excess, faster, beyond):
    module = _module("wang_volatility")
    measured = _volatility(difference, excess)
    assert module.faster_when_volatile(measured).status == faster
    result = module.beyond_fixed_references(measured)
    assert result.status == beyond and "bayes_hazard_0.05" in result.reason


# ------------------------------------------------------------------ task_diversity_transition
def _row(n, verdict, value):
    return {"num_tasks": n, "verdict": verdict, "iqm": {"likelihood_difference": {"value": value}}}


def _diversity(verdicts, values=None, memorisation=((8.0, 7.0, 9.0), (1.0, 0.5, 1.5))):
    from metarl.sweeps.diversity import clean_transition

    ns = [1, 4, 16, 64, 256, "inf"]
    values = values or [-1.0 if v == "locator" else 0.5 for v in verdicts]
    rows = [_row(n, v, x) for n, v, x in zip(ns, verdicts, values, strict=True)]
    return {
        "diversity": {
            "num_tasks": ns,
            "verdicts": list(verdicts),
            "transition": clean_transition(rows),
            "crossing": crossing(rows),
            "memorisation_advantage": {
                "N=1": _interval(*memorisation[0]),
                "N=256": _interval(*memorisation[1]),
            },
        }
    }


L, R, U = "locator", "learner", "undecided"


@pytest.mark.parametrize(
    "verdicts, status",
    [
        ((L, L, L, R, R, R), REPRODUCED),
        ((L, R, R, R, R, R), REPRODUCED),
        ((L, L, L, L, L, R), PARTLY),  # only at inf: the README's 10M-step result
        ((L, L, U, R, R, R), PARTLY),
        ((U, L, L, U, R, U), PARTLY),
        ((L, L, L, L, L, L), NOT_REPRODUCED),
        ((R, R, R, R, R, R), NOT_REPRODUCED),
        ((L, R, L, R, R, R), NOT_REPRODUCED),  # a learner below a locator
        ((U, U, U, U, U, U), NOT_REPRODUCED),
    ],
)
def test_locator_to_learner(verdicts, status):
    module = _module("task_diversity_transition")
    result = module.locator_to_learner(_diversity(verdicts))
    assert result.status == status, result.reason


def test_memorisation_falls():
    module = _module("task_diversity_transition")
    verdicts = (L, L, L, R, R, R)
    falls = module.memorisation_falls(_diversity(verdicts))
    assert falls.status == REPRODUCED
    overlap = ((5.0, 3.0, 7.0), (4.0, 2.0, 6.0))
    assert module.memorisation_falls(_diversity(verdicts, memorisation=overlap)).status == PARTLY
    rises = ((1.0, 0.5, 1.5), (2.0, 1.5, 2.5))
    assert module.memorisation_falls(_diversity(verdicts, memorisation=rises)).status == (
        NOT_REPRODUCED
    )


def test_crossing_interpolates_in_log_n():
    rows = [_row(4, L, -1.0), _row(16, U, -0.5), _row(64, R, 0.5)]
    found = crossing(rows)
    assert found["between"] == [16, 64]
    assert found["n_estimate"] == pytest.approx(32.0)  # halfway between 16 and 64 in log N
    assert crossing([_row(4, L, -1.0), _row(16, L, -0.5)]) == {"between": None, "n_estimate": None}


# ------------------------------------------------------------------ specs load and check
@pytest.mark.parametrize(
    "name", ["rl2_bandits", "wang_volatility", "wang_two_step", "task_diversity_transition"]
)
@pytest.mark.parametrize("variant", ["cpu", "pod"])
def test_specs_load_and_pass_the_checks_made_before_training(name, variant):
    repro = load_reproduction(name, variant)
    assert repro.name == name and repro.variant == variant and repro.claims
    prepared = prepare(repro)
    for setting in repro.settings:
        config = prepared.configs[setting.name]
        seeds = config.run.num_seeds if config else setting.sweep.experiment.run.num_seeds
        assert seeds >= 3  # intervals over training seeds need several


def test_task_diversity_transition_has_five_seeds_and_three_pools():
    sweep = load_reproduction("task_diversity_transition").settings[0].sweep
    assert sweep.experiment.run.num_seeds >= 5
    assert sweep.axis("env.overrides.task_seed").values == (0, 1, 2)
    assert sweep.axis("env.overrides.num_tasks").values == (1, 4, 16, 64, 256, None)


def test_resized_changes_only_the_scale_of_every_setting():
    cpu = load_reproduction("rl2_bandits")
    steps = {"k5_n100": 7_000, "k10_n100": 8_000, "k5_n10": 9_000}
    pod = cpu.resized(
        "a budget",
        run=lambda name: {"num_envs": 64, "total_env_steps": steps[name]},
        agent={"hidden_size": 32},
        measure_options={"episodes": 50},
    )
    assert pod.variant == "pod" and pod.budget == "a budget"
    assert pod.measure_options == {"episodes": 50}
    assert pod.claims == cpu.claims and pod.published == cpu.published
    for before, after in zip(cpu.settings, pod.settings, strict=True):
        assert (after.name, after.label) == (before.name, before.label)
        assert after.config.run.total_env_steps == steps[after.name]
        assert after.config.run.num_envs == 64 and after.config.agent.hidden_size == 32
        # Everything not named stays: the env, the algorithm, the other run and agent fields.
        assert after.config.env == before.config.env and after.config.algo == before.config.algo
        assert after.config.run.seed == before.config.run.seed
        assert after.config.agent.core == before.config.agent.core
    assert cpu.resized("b", run={}).measure_options == cpu.measure_options
    # algo fields change only when named, and then only those.
    longer = cpu.resized("b", run={}, algo={"gamma_final": 0.99})
    for before, after in zip(cpu.settings, longer.settings, strict=True):
        assert after.config.algo.gamma_final == 0.99
        assert after.config.algo == dataclasses.replace(before.config.algo, gamma_final=0.99)


def test_resized_refuses_a_sweep_setting():
    with pytest.raises(ValueError, match="sweep"):
        load_reproduction("task_diversity_transition").resized("b", run={"num_envs": 8})


def _points(runs, probe_half_width, n=16):
    """Sweep points of one N: ``runs[pool][seed]`` likelihood differences, and a pooled-seeds
    interval of the given half width per pool."""
    return [
        {
            "num_tasks": n,
            "per_seed": {"likelihood_difference": list(values)},
            "likelihood_pooled_seeds": {
                "difference": {"value": 0.0, "low": -probe_half_width, "high": probe_half_width}
            },
        }
        for values in runs
    ]


@pytest.mark.parametrize(
    "runs, half_width, largest",
    [
        # Pools far apart, seeds of a pool together: the pool.
        ([[0.10, 0.11, 0.09], [-0.10, -0.11, -0.09], [0.30, 0.31, 0.29]], 0.001, "pool_sd"),
        # Pool means equal, seeds spread: the seed.
        ([[0.2, -0.1, 0.05], [-0.1, 0.05, 0.2], [0.05, 0.2, -0.1]], 0.001, "seed_sd"),
        # Runs nearly equal, a wide interval per run: the probe.
        ([[0.10, 0.11, 0.09], [0.10, 0.09, 0.11], [0.11, 0.10, 0.09]], 0.5, "probe_sd"),
    ],
)
def test_noise_sources_name_the_largest_source(runs, half_width, largest):
    row = {"num_tasks": 16, "iqm": {"likelihood_difference": {"value": 0.1}}}
    noise = noise_sources(_points(runs, half_width), [row])["N=16"]
    assert noise["largest"] == largest
    assert noise["runs"] == 9
    values = np.array(runs)
    assert noise["seed_sd"] == pytest.approx(np.sqrt(values.var(axis=1, ddof=1).mean()))
    assert noise["probe_sd"] == pytest.approx(half_width / 1.959963984540054 * np.sqrt(3))
    assert noise["flip_fraction"] == pytest.approx(np.mean(values < 0))


def test_noise_sources_skip_an_n_without_likelihoods():
    row = {"num_tasks": "inf", "iqm": {"likelihood_difference": {"value": float("nan")}}}
    points = _points([[float("nan")] * 3] * 3, 0.1, n="inf")
    assert noise_sources(points, [row]) == {}


def test_transition_figure_draws_verdicts_and_noise(tmp_path):
    from metarl.reproduce.diversity_transition import plot

    rows = [_row(1, L, -1.5), _row(16, U, -0.01), _row("inf", R, 0.02)]
    points = _points([[-1.5, -1.4], [-1.6, -1.5]], 0.01, n=1) + _points(
        [[0.2, -0.1], [-0.2, 0.1]], 0.01, n=16
    )
    measured = {
        "num_tasks": [1, 16, "inf"],
        "verdicts": [L, U, R],
        "table": {
            f"N={r['num_tasks']}": _interval(v, v - 0.01, v + 0.01)
            for r, v in zip(rows, (-1.5, -0.01, 0.02), strict=True)
        },
        "noise": noise_sources(points, rows),
    }
    report = {"measured": {"diversity": measured}, "reproduction": "t", "variant": "cpu",
              "status": "partly", "source": "a source"}  # fmt: skip
    paths = plot(report, tmp_path)
    assert {p.suffix for p in paths} == {".png", ".pdf"}
    assert all(p.stat().st_size > 0 for p in paths)
    assert set(measured["noise"]) == {"N=1", "N=16"}  # inf had no runs to spread
