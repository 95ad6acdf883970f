"""``metarl`` command line.

::

    metarl train --list
    metarl train <experiment> [--set key=value ...] --run-dir runs/NAME [--resume] [--distributed]
    metarl train --run-dir runs/NAME --resume        # the run dir's own config.json
    metarl eval runs/NAME [--checkpoint latest|best|STEP] [--suite SUITE] [--episodes N] [--seed S]
    metarl plot runs/NAME [--suite SUITE]
    metarl probe runs/NAME [--probe all|NAME[,NAME]] [--checkpoint latest|best|STEP] [--episodes N] [--seed S] [--seed-index I]
    metarl sweep NAME --out runs/SWEEP [--set key=value ...] [--plot-only]
    metarl reproduce --list
    metarl reproduce NAME --out DIR [--variant cpu|pod] [--set key=value ...] [--plot-only]

Exit codes: 0 done; 2 bad config, arguments, suite or run dir (one line, no
traceback, nothing compiled); 3 non-finite loss (the last good checkpoint is
kept); 4 unusable checkpoint, or one whose config differs from the run's (its
path and the reason).
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from metarl.reproduce.command import add_reproduce_parser, cmd_reproduce
from metarl.sweeps.command import add_sweep_parser, cmd_sweep

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_NON_FINITE = 3
EXIT_CHECKPOINT = 4


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse's own code), like config errors
        self.exit(EXIT_CONFIG, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="metarl", description="meta-RL inner-learning experiments in JAX")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_ArgumentParser)
    train = commands.add_parser(
        "train",
        help="train a named experiment into a run directory",
        description="Train a named experiment (experiments/<name>.py) into a run directory.",
        epilog=(
            "Tip: set JAX_COMPILATION_CACHE_DIR=<dir> to reuse compiled programs across runs "
            "and resumes. Exit codes: 2 config/run-dir error, 3 non-finite loss, 4 bad checkpoint."
        ),
    )
    train.add_argument(
        "experiment", nargs="?", help="experiment name (see --list) or path to a .py file"
    )
    train.add_argument(
        "--list", action="store_true", help="list the experiments with their descriptions"
    )
    train.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. run.num_envs=64, env.overrides.num_arms=10 (repeatable)",
    )
    train.add_argument("--run-dir", help="where config, metrics, TensorBoard and checkpoints go")
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue the run dir from its newest intact checkpoint (damaged newer ones are "
        "reported and moved to RUN/damaged_checkpoints/)",
    )
    train.add_argument(
        "--print-config", action="store_true", help="print the resolved config as JSON and exit"
    )
    train.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    group = train.add_argument_group("multi-host (jax.distributed)")
    group.add_argument(
        "--distributed",
        action="store_true",
        help="call jax.distributed.initialize() first (TPU pods auto-detect; elsewhere give the three below)",
    )
    group.add_argument(
        "--coordinator-address", help="host:port of process 0 (or $METARL_COORDINATOR_ADDRESS)"
    )
    group.add_argument(
        "--num-processes", type=int, help="processes in the job (or $METARL_NUM_PROCESSES)"
    )
    group.add_argument(
        "--process-id", type=int, help="this process's index (or $METARL_PROCESS_ID)"
    )
    _add_eval_parser(commands)
    _add_plot_parser(commands)
    _add_probe_parser(commands)
    add_sweep_parser(commands)
    add_reproduce_parser(commands)
    return parser


def _add_eval_parser(commands) -> None:
    evaluate = commands.add_parser(
        "eval",
        help="evaluate a run's frozen checkpoint against reference agents on a suite",
        description=(
            "Restore a run's checkpoint (weights frozen) and play N episodes per suite with every "
            "training seed and every reference agent on the same episodes; write "
            "RUN/eval/SUITE/{episodes.npz,curves.npz,summary.json,learning_curves.png,.pdf}."
        ),
        epilog=(
            "Suites: train, held_out, drift, ood (+ change_point for bandits), 'all', or a comma "
            "list. Reproducible from (checkpoint, suite, seed, episodes). Tip: set "
            "JAX_COMPILATION_CACHE_DIR=<dir> to reuse compiled programs across evaluations. "
            "Exit codes: 2 bad arguments/suite/run dir, 4 unusable or mismatched checkpoint."
        ),
    )
    evaluate.add_argument(
        "run_dir", help="the run directory (as given to 'metarl train --run-dir')"
    )
    evaluate.add_argument(
        "--checkpoint", default="latest", help="'latest' (default), 'best', or an update number"
    )
    evaluate.add_argument(
        "--suite", default="train", help="suite name, comma list, or 'all' (default: train)"
    )
    evaluate.add_argument(
        "--episodes", type=int, default=4096, help="episodes per suite (default 4096)"
    )
    evaluate.add_argument(
        "--seed", type=int, default=0, help="evaluation seed: tasks, rewards, actions (default 0)"
    )
    evaluate.add_argument(
        "--references",
        default="all",
        help="reference agents: 'all' (default), 'none' (random only), or a comma list of names",
    )
    evaluate.add_argument(
        "--greedy", action="store_true", help="the checkpoint acts greedily (default: sampled)"
    )
    evaluate.add_argument("--no-plot", action="store_true", help="write the files but no figures")


def _add_plot_parser(commands) -> None:
    plot = commands.add_parser(
        "plot",
        help="draw a run's figures (PNG + PDF) from its files",
        description=(
            "Draw RUN/plots/training.{png,pdf} from metrics.jsonl and, for every evaluated suite, "
            "RUN/eval/SUITE/learning_curves.{png,pdf} from summary.json and curves.npz. "
            "Reads files only, never a checkpoint."
        ),
    )
    plot.add_argument("run_dir", help="the run directory")
    plot.add_argument("--suite", help="only these suites (comma list)")


_PROBE_EPILOG = (
    "Probes: {probes}. Reproducible from (checkpoint, probe, seed, episodes, seed index). Exit "
    "codes: 2 bad arguments, probe or run dir (before anything compiles), 4 unusable or "
    "mismatched checkpoint."
)


def _add_probe_parser(commands) -> None:
    probe = commands.add_parser(
        "probe",
        help="run the validated probes on a run's frozen checkpoint beside reference agents",
        description=(
            "Restore a run's checkpoint (weights frozen, as 'metarl eval' does) and run each probe on it "
            "and on reference agents of known mechanism on the same held-out episodes; write "
            "RUN/probes/PROBE/{summary.json,arrays.npz,PROBE.png,PROBE.pdf}."
        ),
        epilog=_PROBE_EPILOG.format(probes="(see metarl.probes.registry)"),
    )
    base_format_help = probe.format_help

    def format_help() -> str:
        # The probe list comes from the probe registry, which imports the probes (and JAX):
        # only when help is printed, so building the parser for other commands stays cheap.
        from metarl.probes.registry import family_listing

        probe.epilog = _PROBE_EPILOG.format(probes=family_listing())
        return base_format_help()

    probe.format_help = format_help
    probe.add_argument("run_dir", help="the run directory (as given to 'metarl train --run-dir')")
    probe.add_argument(
        "--probe", default="all", help="'all' (default), a probe name, or a comma list"
    )
    probe.add_argument(
        "--checkpoint", default="latest", help="'latest' (default), 'best', or an update number"
    )
    probe.add_argument(
        "--episodes", type=int, default=256, help="episodes per agent and condition (default 256)"
    )
    probe.add_argument(
        "--seed",
        type=int,
        default=0,
        help="probe seed: tasks, rewards, actions, splits (default 0)",
    )
    probe.add_argument(
        "--seed-index",
        type=int,
        default=0,
        help="which training seed's params to probe (default 0)",
    )
    probe.add_argument("--no-plot", action="store_true", help="write the files but no figures")


def _fail(stream: TextIO, code: int, message: str) -> int:
    stream.write(f"metarl: error: {message}\n")
    stream.flush()
    return code


class _UsageError(Exception):
    pass


def _resolve_config(args: argparse.Namespace):
    from metarl.config import validate
    from metarl.experiments import apply_overrides, resolve
    from metarl.runner.checkpointing import best_metric_mode
    from metarl.runner.run_dir import RunDir

    if args.experiment is None:
        if not (args.resume and args.run_dir):
            raise _UsageError(
                "name an experiment (see 'metarl train --list'), or --resume a --run-dir"
            )
        config = apply_overrides(RunDir(args.run_dir).read_config(), args.sets)
        validate(config)
    else:
        config = resolve(args.experiment, args.sets, build_env=False)
    best_metric_mode(config.run.best_metric)
    return config


def _list_experiments(out: TextIO) -> int:
    from metarl.experiments import list_experiments

    rows = list_experiments()
    width = max((len(name) for name, _ in rows), default=0)
    for name, description in rows:
        first_line = description.strip().splitlines()[0] if description.strip() else ""
        out.write(f"{name.ljust(width)}  {first_line}\n")
    if not rows:
        out.write("(no experiments found)\n")
    return EXIT_OK


def cmd_train(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.list:
        return _list_experiments(out)

    # jax.distributed.initialize must run before the JAX backend starts, and importing
    # metarl.envs (gymnax) starts it: so connect first, then resolve the config. Its
    # errors propagate (a half-connected pod must not train as independent runs).
    from metarl.runner import distributed

    if args.distributed:
        try:
            settings = distributed.settings_from(
                args.coordinator_address, args.num_processes, args.process_id
            )
        except distributed.DistributedConfigError as error:
            return _fail(err, EXIT_CONFIG, str(error))
        distributed.initialize(settings)

    from metarl.errors import ConfigError
    from metarl.runner.run_dir import RunDirError

    try:
        config = _resolve_config(args)
        if args.print_config:
            import json

            from metarl.config_io import config_to_dict
            from metarl.experiments import check_env_values

            # The dry run checks what train checks: train builds the env (validating
            # its values) before compiling; so does this, and then stops.
            check_env_values(config)
            out.write(json.dumps(config_to_dict(config), indent=2) + "\n")
            return EXIT_OK
        if not args.run_dir:
            raise _UsageError("--run-dir is required")
    except (ConfigError, RunDirError, _UsageError) as error:
        return _fail(err, EXIT_CONFIG, str(error))

    from metarl.runner.checkpointing import CheckpointError
    from metarl.runner.train_loop import NonFiniteLossError, train

    # Bad env values (e.g. num_arms=1) surface from the trainer's constructor, which
    # builds the env before anything is compiled; train() checks the run dir first
    # and writes nothing until the trainer exists.
    # No mesh given: the trainer lays its 'data' axis over jax.devices(), which after
    # jax.distributed.initialize are the devices of every process.
    try:
        result = train(
            config,
            args.run_dir,
            resume=args.resume,
            progress_stream=err,
            show_progress=not args.no_progress,
        )
    except (ConfigError, RunDirError) as error:
        return _fail(err, EXIT_CONFIG, str(error))
    except NonFiniteLossError as error:
        return _fail(err, EXIT_NON_FINITE, str(error))
    except CheckpointError as error:
        return _fail(err, EXIT_CHECKPOINT, str(error))
    if distributed.is_primary():
        err.write(f"metarl: done: {result.update} updates in {args.run_dir}\n")
    return EXIT_OK


def _write_result_summaries(run, summary_file: str, formatter, out: TextIO, err: TextIO) -> int:
    """Run ``run() -> [result dirs]`` mapping config/checkpoint errors to exit codes; print summaries."""
    import json

    from metarl.errors import ConfigError
    from metarl.runner.checkpointing import CheckpointError
    from metarl.runner.run_dir import RunDirError

    try:
        directories = run()
    except (ConfigError, RunDirError) as error:
        return _fail(err, EXIT_CONFIG, str(error))
    except CheckpointError as error:
        return _fail(err, EXIT_CHECKPOINT, str(error))
    for directory in directories:
        summary = json.loads((directory / summary_file).read_text())
        out.write(formatter(summary) + "\n")
        out.write(f"written: {directory}/\n\n")
    return EXIT_OK


def _log_to(err: TextIO):
    return lambda message: (err.write(f"metarl: {message}\n"), err.flush())


def cmd_eval(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from metarl.evaluation.run_eval import SUMMARY_FILE, evaluate_run, format_summary

    references = args.references
    if references not in ("all", "none"):
        references = [name.strip() for name in references.split(",") if name.strip()]
    return _write_result_summaries(
        lambda: evaluate_run(
            args.run_dir,
            checkpoint=args.checkpoint,
            suite=args.suite,
            num_episodes=args.episodes,
            seed=args.seed,
            greedy=args.greedy,
            references=references,
            plot=not args.no_plot,
            log=_log_to(err),
        ),
        SUMMARY_FILE,
        format_summary,
        out,
        err,
    )


def cmd_plot(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from pathlib import Path

    from metarl.plotting import eval_dirs, plot_run

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        return _fail(err, EXIT_CONFIG, f"run dir {run_dir} does not exist")
    suites = None if args.suite is None else [s.strip() for s in args.suite.split(",") if s.strip()]
    if suites is not None:
        evaluated = [d.name for d in eval_dirs(run_dir)]
        missing = [s for s in suites if s not in evaluated]
        if missing:
            return _fail(
                err,
                EXIT_CONFIG,
                f"suite(s) {', '.join(repr(s) for s in missing)} not evaluated in {run_dir}; "
                f"allowed values: {', '.join(repr(s) for s in evaluated) or '(none: run metarl eval first)'}",
            )
    written = plot_run(run_dir, suites)
    if not written:
        return _fail(err, EXIT_CONFIG, f"nothing to plot in {run_dir} (no metrics.jsonl, no eval/)")
    for path in written:
        out.write(f"{path}\n")
    return EXIT_OK


def cmd_probe(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import os

    # The probes' fits (decoders, logistic regressions) multiply small matrices, where OpenBLAS
    # threads spin against JAX's and other jobs' on a small CPU: measured 13x slower logistic
    # decoding on the 2-core machine. Effective only before numpy loads (this command's own
    # process); an explicit OPENBLAS_NUM_THREADS wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

    from metarl.probes.run_probes import SUMMARY_FILE, format_probe_summary, probe_run

    return _write_result_summaries(
        lambda: probe_run(
            args.run_dir,
            probes=args.probe,
            checkpoint=args.checkpoint,
            num_episodes=args.episodes,
            seed=args.seed,
            seed_index=args.seed_index,
            plot=not args.no_plot,
            log=_log_to(err),
        ),
        SUMMARY_FILE,
        format_probe_summary,
        out,
        err,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "train":
        code = cmd_train(args, sys.stdout, sys.stderr)
    elif args.command == "eval":
        code = cmd_eval(args, sys.stdout, sys.stderr)
    elif args.command == "plot":
        code = cmd_plot(args, sys.stdout, sys.stderr)
    elif args.command == "probe":
        code = cmd_probe(args, sys.stdout, sys.stderr)
    elif args.command == "sweep":
        code = cmd_sweep(args, sys.stdout, sys.stderr, _fail)
    elif args.command == "reproduce":
        code = cmd_reproduce(args, sys.stdout, sys.stderr, _fail)
    else:  # pragma: no cover - argparse rejects unknown commands
        code = EXIT_CONFIG
    return code


if __name__ == "__main__":
    sys.exit(main())
