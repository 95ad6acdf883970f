"""Probes of frozen agents: what kind of thing improves inside an episode.

Each probe is an instrument validated (in tests) on reference agents whose
mechanism is known before it is pointed at a checkpoint. ``metarl probe`` (``probe_run``)
points them at a run's checkpoint, beside those references on the same episodes.

The public surface (imported lazily, so ``import metarl.probes`` stays cheap):

* orchestration: ``probe_run``, ``check_probes``, ``plot_probe_dir``; the registry of
  ``Probe`` objects (``PROBES``, ``PROBES_BY_FAMILY``, ``VERDICTS``; ``metarl.probes.protocol``
  says what a probe is);
* bandit choices: ``compare_learner_vs_locator`` (likelihood), ``fit_choice_models``
  (BIC table), ``evaluate_volatility`` / ``volatility_conditions`` / ``compare_learning_rates``
  (its fixed-hazard reference, ``change_point_bayesian``, is a bandit baseline:
  ``metarl.evaluation.baselines``);
* hidden states: ``decode_beliefs``, ``decode_targets``, ``random_network_hidden``;
* two-step: ``analyze_two_step``; thinking: ``with_thinking``, ``thinking_curve``;
  mazes: ``difficulty_scaling``.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "probe_run": "run_probes",
    "check_probes": "run_probes",
    "PROBES": "registry",
    "PROBES_BY_FAMILY": "registry",
    "VERDICTS": "registry",
    "Probe": "protocol",
    "plot_probe_dir": "run_probes",
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
