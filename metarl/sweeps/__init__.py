"""Sweeps: named axes over one experiment, trained and evaluated as vmapped groups.

An experiment file exports ``SWEEP = Sweep(...)``; ``metarl sweep NAME --out DIR``
runs it (``metarl.sweeps.run_sweep``). See ``spec`` (points), ``groups`` (what
trains in one program), ``seeds`` (IQM and stratified bootstrap over seeds),
``diversity`` (what the diversity analyses share: per-N table, verdict, figure),
``task_diversity`` (the bandit task-diversity sweep) and ``rule_grid_diversity``
(the rule grid's ruleset-diversity sweep).
"""

from metarl.sweeps.spec import Axis, Sweep, SweepPoint

__all__ = ["Axis", "Sweep", "SweepPoint"]
