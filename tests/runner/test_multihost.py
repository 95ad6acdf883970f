"""Two processes, one SPMD program: ``metarl train --distributed`` on localhost CPUs.

Each process runs the real CLI with jax.distributed (coordinator 127.0.0.1:<free
port>, gloo collectives); the env batch is split across the two processes'
devices and parameters are replicated. The processes must end with bit-identical
parameters and metrics, only process 0 may write the logs, and the checkpoint
both wrote together must restore to those parameters.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np

from metarl.experiments import load_experiment
from metarl.runner.checkpointing import Checkpointer
from metarl.runner.metrics_log import read_records

EXPERIMENT = '''"""Tiny bandit for the two-process test."""
from metarl.config import AgentConfig, EnvConfig, ExperimentConfig, RunConfig

CONFIG = ExperimentConfig(
    name="tiny_multihost",
    description="Tiny bandit, two processes.",
    env=EnvConfig(name="bandit-bernoulli-v0", overrides={"num_arms": 2, "horizon": 10}),
    agent=AgentConfig(hidden_size=8, embed_size=8),
    run=RunConfig(num_envs=8, rollout_length=10, total_env_steps=8 * 10 * 6, updates_per_chunk=2,
                  checkpoint_every_chunks=1, keep_checkpoints=2),
)
'''

# Runs the real CLI, and keeps the TrainResult that train() returns so the test can
# compare what each process ended with.
WORKER = r"""
import json, sys
import numpy as np
import metarl
from metarl import cli
from metarl.runner import distributed

process_id, port, experiment, run_dir, out = sys.argv[1:6]
extra = sys.argv[6:]
captured = {}
real_initialize = distributed.initialize


def initialize_then_capture(settings):
    # train_loop imports the env registry, which starts the JAX backend: it may only be
    # imported after jax.distributed.initialize, as the CLI itself does.
    real_initialize(settings)
    from metarl.runner import train_loop

    real_train = train_loop.train

    def keep_result(*args, **kwargs):
        captured["result"] = real_train(*args, **kwargs)
        return captured["result"]

    train_loop.train = keep_result


distributed.initialize = initialize_then_capture
code = cli.main([
    "train", experiment, "--run-dir", run_dir, "--no-progress", "--distributed",
    "--coordinator-address", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", process_id,
    *extra,
])
import jax
result = captured["result"]
params = [np.asarray(leaf.addressable_data(0)) for leaf in jax.tree.leaves(result.state.params)]
tag = "_resumed" if extra else ""
np.savez(f"{out}/params{tag}_{process_id}.npz", *params)
with open(f"{out}/summary{tag}_{process_id}.json", "w") as handle:
    json.dump({
        "code": code,
        "process_count": jax.process_count(),
        "device_count": jax.device_count(),
        "local_device_count": jax.local_device_count(),
        "env_shard_shape": list(result.state.obs.addressable_shards[0].data.shape),
        "records": result.records,
    }, handle)
"""

TIMING_FIELDS = ("steps_per_s", "chunk_seconds", "wall_time_s", "time")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_two_processes(experiment, run_dir, out, *extra: str) -> list[str]:
    """Run the worker as processes 0 and 1 of one job; their combined output, per process."""
    port = _free_port()
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1")
    # One CPU device per process (other tests may fake several in their own process).
    env["XLA_FLAGS"] = " ".join(
        flag
        for flag in env.get("XLA_FLAGS", "").split()
        if "xla_force_host_platform_device_count" not in flag
    )
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                str(pid),
                str(port),
                str(experiment),
                str(run_dir),
                str(out),
                *extra,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for pid in (0, 1)
    ]
    logs = []
    try:
        for process in processes:
            logs.append(process.communicate(timeout=300)[0])
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for pid, process in enumerate(processes):
        assert process.returncode == 0, f"process {pid} failed:\n{logs[pid][-4000:]}"
    return logs


def test_two_processes_train_one_run_and_agree(tmp_path):
    experiment = tmp_path / "tiny_multihost.py"
    experiment.write_text(EXPERIMENT)
    run_dir = tmp_path / "run"
    out = tmp_path / "out"
    out.mkdir()
    _run_two_processes(experiment, run_dir, out)

    summaries = [json.loads((out / f"summary_{pid}.json").read_text()) for pid in (0, 1)]
    for summary in summaries:
        assert summary["code"] == 0
        assert (
            summary["process_count"],
            summary["device_count"],
            summary["local_device_count"],
        ) == (2, 2, 1)
        # [num_seeds, num_envs / 2 processes, obs]: each process steps half of the envs.
        assert summary["env_shard_shape"][:2] == [1, 4]

    params = [np.load(out / f"params_{pid}.npz") for pid in (0, 1)]
    assert len(params[0].files) == len(params[1].files) > 0
    for name in params[0].files:
        assert np.array_equal(params[0][name], params[1][name]), name

    def without_timing(records):
        return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in records]

    assert without_timing(summaries[0]["records"]) == without_timing(summaries[1]["records"])
    assert [r["update"] for r in summaries[0]["records"]] == [2, 4, 6]

    # Process 0 alone wrote the logs: one line per chunk, not two.
    assert [r["update"] for r in read_records(run_dir / "metrics.jsonl")] == [2, 4, 6]
    assert (run_dir / "config.json").is_file()
    assert len(list((run_dir / "tb").glob("events.out.tfevents.*"))) == 1

    # The checkpoint both processes saved restores (here, on one device) to the same params.
    from metarl.training.trainer import make_trainer

    config = load_experiment(str(experiment))
    checkpointer = Checkpointer(run_dir / "checkpoints", config, read_only=True)
    try:
        assert checkpointer.latest_step() == 6
        state, meta = checkpointer.restore(6, make_trainer(config).abstract_state())
    finally:
        checkpointer.close()
    restored = [np.asarray(leaf) for leaf in jax.tree.leaves(state.params)]
    assert len(restored) == len(params[0].files)
    for index, leaf in enumerate(restored):
        assert np.array_equal(leaf, params[0][f"arr_{index}"])
    assert meta["update"] == 6

    # A damaged latest checkpoint: both processes verify (each hashing the gathered
    # global arrays), agree it is damaged, fall back to update 4 and replay to the
    # same parameters bit for bit.
    state_dir = run_dir / "checkpoints" / "6" / "state"
    largest = max((p for p in state_dir.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    data = bytearray(largest.read_bytes())
    assert len(data) >= 1024, largest
    middle = (len(data) - 512) // 2
    data[middle : middle + 512] = np.random.default_rng(0).integers(0, 256, 512, np.uint8).tobytes()
    largest.write_bytes(bytes(data))
    logs = _run_two_processes(experiment, run_dir, out, "--resume")
    assert "resuming from the newest intact checkpoint (update 4)" in logs[0]
    assert "newest intact checkpoint" not in logs[1]  # process 0 alone reports
    resumed = np.load(out / "params_resumed_0.npz")
    for name in params[0].files:
        assert np.array_equal(resumed[name], params[0][name]), name
    assert [r["update"] for r in read_records(run_dir / "metrics.jsonl")] == [2, 4, 6]
