"""The ``metarl reproduce`` subcommand: parser and handler (``metarl.cli`` wires them in)."""

from __future__ import annotations

import argparse
from typing import TextIO

EPILOG = """\
A reproduction is a file experiments/reproductions/NAME.py exporting REPRODUCTION
(metarl.reproduce.Reproduction; POD for the pod-sized variant): the published
numbers, the settings that test them and each claim's rule, written before running.

  metarl reproduce --list
  metarl reproduce rl2_bandits --out runs/rl2_bandits
  metarl reproduce rl2_bandits --out runs/rl2_small --set run.total_env_steps=20000000
  metarl reproduce rl2_bandits --out runs/rl2_bandits --set measure.episodes=2000
  metarl reproduce rl2_bandits --out runs/rl2_bandits --plot-only

Writes OUT/report.md, OUT/report.json and OUT/reproduction.{png,pdf}. Resumable: run
the same command again; trained settings are skipped, a killed training resumes from
its checkpoint, measured settings are reused; an out dir of other settings is refused.
--set applies to every setting (run.*, agent.*, algo.*; env.* is the published
setting and is refused); measure.KEY sets a measure option.
Exit codes: 2 bad name, field, value or out dir (before anything compiles); 3
non-finite loss; 4 unusable checkpoint.
"""


def add_reproduce_parser(commands) -> None:
    reproduce = commands.add_parser(
        "reproduce",
        help="train, evaluate and report one published finding against its numbers",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    reproduce.add_argument("name", nargs="?", help="reproduction name (see --list) or path")
    reproduce.add_argument(
        "--list", action="store_true", help="list reproductions: question, source, budgets"
    )
    reproduce.add_argument("--out", help="output directory (created; resumable)")
    reproduce.add_argument(
        "--variant", default="cpu", help="'cpu' (default) or 'pod': which budget to run"
    )
    reproduce.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field of every setting, or measure.KEY; repeatable",
    )
    reproduce.add_argument(
        "--plot-only", action="store_true", help="redraw report.md and the figure from report.json"
    )
    reproduce.add_argument("--no-progress", action="store_true", help="no progress line on stderr")


def _list(out: TextIO) -> int:
    from metarl.reproduce.registry import list_reproductions

    rows = list_reproductions()
    if not rows:
        out.write("(no reproductions found)\n")
    for row in rows:
        out.write(f"{row['name']}\n  question: {row.get('question', '')}\n")
        out.write(f"  source:   {row.get('source', '')}\n")
        for variant in ("cpu", "pod"):
            if f"budget_{variant}" in row:
                out.write(f"  budget ({variant}): {row[f'budget_{variant}']}\n")
    return 0


def cmd_reproduce(args: argparse.Namespace, out: TextIO, err: TextIO, fail) -> int:
    """Run the reproduction; exit 2 on a bad name/config/out dir, 3 non-finite, 4 checkpoint."""
    if args.list:
        return _list(out)
    if not args.name or not args.out:
        return fail(err, 2, "name a reproduction (see 'metarl reproduce --list') and give --out")

    from metarl.errors import ConfigError
    from metarl.reproduce.registry import load_reproduction
    from metarl.reproduce.report import REPORT_MD, format_status_lines
    from metarl.reproduce.runner import ReproductionDirError, run_reproduction
    from metarl.runner.checkpointing import CheckpointError
    from metarl.runner.run_dir import RunDirError
    from metarl.runner.train_loop import NonFiniteLossError
    from metarl.sweeps.run_sweep import SweepDirError

    try:
        repro = load_reproduction(args.name, args.variant)
        report = run_reproduction(
            repro, args.out, args.sets, plot_only=args.plot_only, progress=not args.no_progress
        )
    except (ConfigError, ReproductionDirError, RunDirError, SweepDirError) as error:
        return fail(err, 2, str(error))
    except NonFiniteLossError as error:
        return fail(err, 3, str(error))
    except CheckpointError as error:
        return fail(err, 4, str(error))
    out.write("\n".join(format_status_lines(report)) + "\n")
    out.write(f"report: {args.out}/{REPORT_MD}\n")
    return 0
