#!/usr/bin/env python3
"""Run ``metarl train`` on every worker of a Cloud TPU pod slice.

Builds (and, without ``--dry-run``, runs) ``gcloud compute tpus tpu-vm`` commands:

* ``setup``:   on all workers, make a venv, clone/update the repo at ``--ref`` and
  ``pip install`` it with ``jax[tpu]``;
* ``train``:   on all workers at once, start ``metarl train ... --distributed`` in the
  background (``nohup``), each writing its own log; JAX's TPU cluster detection
  gives every process its coordinator, count and index;
* ``collect``: ``scp`` each worker's log back to ``--log-dir/worker-<i>/``;
* ``tail``:    print the end of every worker's log.

The run directory must be one path that every worker sees (an NFS mount, or a
gcsfuse mount of a bucket): process 0 writes config.json / metrics.jsonl /
TensorBoard there and all processes write their checkpoint shards. URLs such as
gs://... are refused (metarl's run dir appends to files, which object stores do
not do): mount the bucket and pass the mount path.

Example::

    python scripts/launch_pod.py --tpu my-v4-32 --zone us-central2-b --project my-proj \\
        --experiment bandit_default --set run.num_envs=4096 --run-dir /mnt/shared/runs/b1 \\
        --repo-url https://github.com/me/metarl.git --num-workers 4 --dry-run
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from collections.abc import Sequence

STEPS = ("setup", "train", "collect", "tail")
JAX_TPU_REQUIREMENT = "jax[tpu]>=0.10.2,<0.11"


def gcloud_ssh(args: argparse.Namespace, remote_command: str, worker: str = "all") -> list[str]:
    """``gcloud compute tpus tpu-vm ssh NAME --zone Z [--project P] --worker=W --command CMD``."""
    command = ["gcloud", "compute", "tpus", "tpu-vm", "ssh", args.tpu, "--zone", args.zone]
    if args.project:
        command += ["--project", args.project]
    command += [f"--worker={worker}", "--command", remote_command]
    return command


def gcloud_scp(
    args: argparse.Namespace, remote_path: str, local_dir: str, worker: int
) -> list[str]:
    """``gcloud compute tpus tpu-vm scp NAME:PATH LOCAL --zone Z [--project P] --worker=I``."""
    command = ["gcloud", "compute", "tpus", "tpu-vm", "scp", f"{args.tpu}:{remote_path}", local_dir]
    command += ["--zone", args.zone]
    if args.project:
        command += ["--project", args.project]
    command += [f"--worker={worker}"]
    return command


def setup_script(args: argparse.Namespace) -> str:
    """Bash run on each worker: venv, repo at --ref, editable install with jax[tpu]."""
    venv, repo = shlex.quote(args.venv), shlex.quote(args.repo_dir)
    url, ref = shlex.quote(args.repo_url), shlex.quote(args.ref)
    lines = [
        "set -euo pipefail",
        f"{shlex.quote(args.python)} -m venv {venv}",
        f"{venv}/bin/pip install --quiet --upgrade pip",
        f"if [ -d {repo}/.git ]; then git -C {repo} fetch --quiet origin; else git clone --quiet {url} {repo}; fi",
        f"git -C {repo} checkout --quiet {ref}",
        f"{venv}/bin/pip install --quiet -e {repo} {shlex.quote(JAX_TPU_REQUIREMENT)}",
        f"{venv}/bin/python -c 'import jax; print(jax.process_index(), jax.device_count())'",
    ]
    return "; ".join(lines[:1]) + "; " + " && ".join(lines[1:])


def train_argv(args: argparse.Namespace) -> list[str]:
    """The ``metarl train`` command every worker runs (identical on all of them)."""
    argv = [f"{args.venv}/bin/metarl", "train", args.experiment]
    for assignment in args.sets:
        argv += ["--set", assignment]
    argv += ["--run-dir", args.run_dir, "--distributed", "--no-progress"]
    if args.resume:
        argv.append("--resume")
    return argv


def train_script(args: argparse.Namespace) -> str:
    """Bash run on each worker: start training in the background, log to a per-worker file.

    It runs from the home dir (where the relative --venv / --repo-dir / --remote-log-dir
    live) and points metarl at the checkout's experiments/ explicitly.
    """
    log_dir = shlex.quote(args.remote_log_dir)
    # $(hostname) is left unquoted on purpose: it names each worker's own log.
    log_file = f'{log_dir}/train-"$(hostname)".log'
    experiments = shlex.quote(f"{args.repo_dir}/experiments")
    return (
        f"set -euo pipefail; mkdir -p {log_dir} && METARL_EXPERIMENTS_DIR={experiments} "
        f"nohup {shlex.join(train_argv(args))} > {log_file} 2>&1 < /dev/null &"
    )


def tail_script(args: argparse.Namespace) -> str:
    return f"tail -n {int(args.tail_lines)} {shlex.quote(args.remote_log_dir)}/train-*.log"


def build_commands(args: argparse.Namespace) -> list[list[str]]:
    """Every command of the requested steps, in order, as argv lists."""
    check_args(args)
    commands: list[list[str]] = []
    for step in args.steps:
        if step == "setup":
            commands.append(gcloud_ssh(args, setup_script(args)))
        elif step == "train":
            commands.append(gcloud_ssh(args, train_script(args)))
        elif step == "tail":
            commands.append(gcloud_ssh(args, tail_script(args)))
        elif step == "collect":
            for worker in range(args.num_workers):
                local = f"{args.log_dir}/worker-{worker}/"
                commands.append(["mkdir", "-p", local])
                commands.append(
                    gcloud_scp(args, f"{args.remote_log_dir}/train-*.log", local, worker)
                )
    return commands


class LaunchError(ValueError):
    pass


def check_args(args: argparse.Namespace) -> None:
    unknown = [s for s in args.steps if s not in STEPS]
    if unknown:
        raise LaunchError(f"--steps: unknown step(s) {unknown}; allowed: {', '.join(STEPS)}")
    if "setup" in args.steps and not args.repo_url:
        raise LaunchError("--steps setup needs --repo-url (the git URL each worker clones)")
    if "train" in args.steps:
        if not args.experiment:
            raise LaunchError("--steps train needs --experiment")
        if not args.run_dir:
            raise LaunchError("--steps train needs --run-dir (a path every worker shares)")
        if "://" in args.run_dir:
            raise LaunchError(
                f"--run-dir {args.run_dir!r}: URLs are not supported; mount the bucket on every "
                "worker (gcsfuse) or use NFS, and pass the mount path"
            )
        if not args.run_dir.startswith("/"):
            raise LaunchError(
                f"--run-dir {args.run_dir!r} must be absolute: workers start in their home dirs"
            )
        for assignment in args.sets:
            if "=" not in assignment:
                raise LaunchError(f"--set {assignment!r}: expected key=value")
    if "collect" in args.steps and args.num_workers < 1:
        raise LaunchError("--steps collect needs --num-workers N (the pod's worker count)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tpu", required=True, help="TPU VM (pod slice) name")
    parser.add_argument("--zone", required=True)
    parser.add_argument("--project", help="GCP project (default: gcloud's configured project)")
    parser.add_argument(
        "--steps",
        type=lambda text: [s for s in text.split(",") if s],
        default=["setup", "train"],
        help=f"comma-separated, from {', '.join(STEPS)} (default: setup,train)",
    )
    parser.add_argument("--experiment", help="experiment name (experiments/<name>.py in the repo)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--run-dir", help="absolute run dir on a filesystem every worker shares")
    parser.add_argument(
        "--resume", action="store_true", help="resume the run dir from its latest checkpoint"
    )
    parser.add_argument("--repo-url", help="git URL of the metarl repo to install on the workers")
    parser.add_argument("--ref", default="main", help="git ref (branch, tag, commit) to check out")
    parser.add_argument(
        "--repo-dir", default="metarl", help="repo checkout on each worker (relative to home)"
    )
    parser.add_argument(
        "--venv", default="metarl-venv", help="virtualenv on each worker (relative to home)"
    )
    parser.add_argument("--python", default="python3", help="python used to create the venv")
    parser.add_argument(
        "--remote-log-dir", default="metarl_logs", help="per-worker log dir (relative to home)"
    )
    parser.add_argument(
        "--log-dir", default="pod_logs", help="local dir that collect copies logs into"
    )
    parser.add_argument(
        "--num-workers", type=int, default=0, help="worker count of the slice (for collect)"
    )
    parser.add_argument("--tail-lines", type=int, default=5)
    parser.add_argument(
        "--dry-run", action="store_true", help="print the commands instead of running them"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        commands = build_commands(args)
    except LaunchError as error:
        print(f"launch_pod: error: {error}", file=sys.stderr)
        return 2
    for command in commands:
        print(shlex.join(command), flush=True)
        if not args.dry_run:
            subprocess.run(command, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
