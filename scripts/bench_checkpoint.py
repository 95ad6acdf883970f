"""Cost of checkpoint verification: save and restore with and without the checksums.

    python scripts/bench_checkpoint.py [--experiment bandit_default] [--repeats 5]

Builds the experiment's whole TrainState (as ``metarl train`` checkpoints it),
then times, median over repeats: hashing it (``integrity.array_digests``); a save
(queue + wait) with the checksums and with them skipped; a restore with
verification (``Checkpointer.restore_verified``: sidecar, restore, verify) and
orbax's bare restore; the verification alone (``integrity.find_mismatch``); and
the eval/probe path (the params alone, after ``Checkpointer.verify`` of the whole).
Prints one JSON object. Compare with the chunk time of the same experiment
(metrics.jsonl ``chunk_seconds``) and its save interval (``run.checkpoint_every_chunks``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import jax
import orbax.checkpoint as ocp


def _median_seconds(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="bandit_default")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from metarl.experiments import resolve
    from metarl.runner import checkpointing, integrity
    from metarl.training.trainer import make_trainer

    config = resolve(args.experiment, build_env=False)
    trainer = make_trainer(config)
    state = jax.block_until_ready(trainer.init(jax.random.key(config.run.seed)))
    abstract = trainer.abstract_state()
    leaves = jax.tree.leaves(state)
    nbytes = sum(integrity.host_array(leaf).nbytes for leaf in leaves)
    summary = {"mean_episode_return": 0.0, "mean_regret_per_step": 0.0}
    real_digests = integrity.array_digests

    with tempfile.TemporaryDirectory() as directory:
        checkpointer = checkpointing.Checkpointer(Path(directory) / "checkpoints", config)
        step = [0]

        def save(verify: bool) -> None:
            integrity.array_digests = real_digests if verify else (lambda tree: {})
            step[0] += 1
            checkpointer.save(step[0], state, summary, force=True)
            checkpointer.wait()

        hash_s = _median_seconds(lambda: real_digests(state), args.repeats)
        save_plain_s = _median_seconds(lambda: save(False), args.repeats)
        save_verified_s = _median_seconds(lambda: save(True), args.repeats)
        integrity.array_digests = real_digests
        verified_step = step[0]  # saved with checksums

        def bare_restore() -> None:
            restored = checkpointer.manager.restore(
                verified_step,
                args=ocp.args.Composite(
                    **{checkpointing.STATE_ITEM: ocp.args.StandardRestore(abstract)}
                ),
            )
            jax.block_until_ready(restored[checkpointing.STATE_ITEM])

        restore_plain_s = _median_seconds(bare_restore, args.repeats)
        restore_verified_s = _median_seconds(
            lambda: checkpointer.restore_verified(verified_step, abstract), args.repeats
        )
        params_target = {"params": abstract.params}
        restore_params_s = _median_seconds(
            lambda: checkpointer.restore_verified(verified_step, params_target, partial=True),
            args.repeats,
        )
        restored, meta = checkpointer.restore_verified(verified_step, abstract)
        recorded = meta[checkpointing.CHECKSUMS_KEY]["arrays"]
        verify_s = _median_seconds(
            lambda: integrity.find_mismatch(restored, recorded), args.repeats
        )
        checkpointer.close()

    print(
        json.dumps(
            {
                "experiment": args.experiment,
                "state_arrays": len(leaves),
                "state_bytes": nbytes,
                "hash_s": round(hash_s, 5),
                "save_without_checksums_s": round(save_plain_s, 4),
                "save_with_checksums_s": round(save_verified_s, 4),
                "restore_without_verification_s": round(restore_plain_s, 4),
                "restore_with_verification_s": round(restore_verified_s, 4),
                "verify_s": round(verify_s, 5),
                "restore_params_verified_s": round(restore_params_s, 4),
                "updates_per_chunk": config.run.updates_per_chunk,
                "checkpoint_every_chunks": config.run.checkpoint_every_chunks,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
