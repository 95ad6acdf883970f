"""Probes of frozen agents: what kind of thing improves inside an episode.

Each probe is an instrument validated (in tests) on reference agents whose
mechanism is known before it is pointed at a checkpoint. ``metarl probe`` (``probe_run``)
points them at a run's checkpoint, beside those references on the same episodes.

The public surface (imported lazily, so ``import metarl.probes`` stays cheap):

* orchestration: ``probe_run``, ``check_probes``, ``PROBES_BY_FAMILY``, ``VERDICTS``,
  ``plot_probe_dir``;
* bandit choices: ``compare_learner_vs_locator`` (likelihood), ``fit_choice_models``
  (BIC table), ``evaluate_volatility`` / ``volatility_conditions`` / ``compare_learning_rates``,
  ``change_point_bayesian`` (a fixed-hazard Bayesian reference);
* hidden states: ``decode_beliefs``, ``decode_targets``, ``random_network_hidden``;
* two-step: ``analyze_two_step``; thinking: ``with_thinking``, ``thinking_curve``;
  mazes: ``difficulty_scaling``.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "probe_run": "run_probes",
    "check_probes": "run_probes",
    "PROBES_BY_FAMILY": "run_probes",
    "VERDICTS": "run_probes",
    "plot_probe_dir": "figures",
    "compare_learner_vs_locator": "likelihood",
    "fit_choice_models": "model_fit",
    "evaluate_volatility": "volatility",
    "volatility_conditions": "volatility",
    "compare_learning_rates": "volatility",
    "decode_beliefs": "decoding",
    "decode_targets": "decoding",
    "random_network_hidden": "decoding",
    "analyze_two_step": "two_step",
    "with_thinking": "thinking",
    "thinking_curve": "thinking",
    "difficulty_scaling": "difficulty",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'metarl.probes' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"metarl.probes.{_EXPORTS[name]}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
