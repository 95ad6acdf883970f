"""The ``metarl sweep`` subcommand: parser and handler (``metarl.cli`` wires them in)."""

from __future__ import annotations

import argparse
from typing import TextIO

EPILOG = """\
A sweep is an experiment file that exports SWEEP (metarl.sweeps.Sweep): the
experiment, the axes it varies and the analysis module. Points that differ only in
task pool (env.overrides.num_tasks), pool seed (env.overrides.task_seed) or
run.seed train as ONE vmapped program; others train one group after another.

  metarl sweep task_diversity --out runs/diversity
  metarl sweep task_diversity --out runs/diversity --set run.total_env_steps=2000000
  metarl sweep task_diversity --out runs/diversity --plot-only

Resumable: run the same command again; a finished group is skipped, a killed one
resumes from its checkpoint, an out dir of other settings is refused (exit 2).
"""


def add_sweep_parser(commands) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="train, evaluate and plot a named sweep (task pools and seeds vmapped)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sweep.add_argument(
        "sweep", help="experiment name (experiments/NAME.py exporting SWEEP) or path"
    )
    sweep.add_argument("--out", required=True, help="sweep directory (created; resumable)")
    sweep.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field of every point (not a swept one); repeatable",
    )
    sweep.add_argument(
        "--plot-only", action="store_true", help="redraw the figure from sweep_summary.json"
    )


def cmd_sweep(args: argparse.Namespace, out: TextIO, err: TextIO, fail) -> int:
    """Run the sweep; exit 2 on a bad config or out dir, 4 on a damaged checkpoint."""
    from metarl.errors import ConfigError
    from metarl.runner.checkpointing import CheckpointError
    from metarl.runner.run_dir import RunDirError
    from metarl.sweeps.run_sweep import SUMMARY_FILE, SweepDirError, load_sweep, run_sweep

    try:
        sweep = load_sweep(args.sweep)
        summary = run_sweep(sweep, args.out, args.sets, plot_only=args.plot_only)
    except (ConfigError, SweepDirError, RunDirError) as error:
        return fail(err, 2, str(error))
    except CheckpointError as error:
        return fail(err, 4, str(error))
    out.write(f"{summary.get('transition', '')}\n")
    out.write(f"summary: {args.out}/{SUMMARY_FILE}\n")
    return 0
