"""The run directory: the interface between train, eval and plot, and pod and laptop.

::

    <run_dir>/config.json     the full resolved config (written once, by process 0)
    <run_dir>/metrics.jsonl   one line per chunk (see metrics_log)
    <run_dir>/tb/             TensorBoard event files
    <run_dir>/checkpoints/    orbax steps, each with state/ and a JSON sidecar meta/
    <run_dir>/damaged_checkpoints/  steps a resume found damaged and set aside (if any)

A run directory is never overwritten: a fresh run needs an empty or missing
directory, and a resume needs the config the directory was started with (up to
the fields in ``checkpointing.RESUME_SAFE_FIELDS``). The one deletion: a fresh run
that fails before its first checkpoint removes what it created (it holds nothing
to resume), so the corrected command can start in the same directory.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from metarl.config import ExperimentConfig
from metarl.config_io import config_differences, config_from_dict, config_to_dict
from metarl.reporting import write_json
from metarl.runner.checkpointing import RESUME_SAFE_FIELDS

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
TB_DIR = "tb"
CHECKPOINT_DIR = "checkpoints"
DAMAGED_CHECKPOINT_DIR = "damaged_checkpoints"


class RunDirError(RuntimeError):
    """The run directory cannot be used as asked (message says what to do instead)."""


class RunDir:
    def __init__(self, root: Path | str):
        text = str(root)
        if "://" in text:
            # config.json / metrics.jsonl are appended and rewritten in place, which object
            # stores do not do; mount the bucket (gcsfuse) and pass the mount path.
            raise RunDirError(
                f"run dir {text!r}: URLs are not supported; use a local or mounted path "
                "(NFS, or a gcsfuse mount of the bucket)"
            )
        self.root = Path(root).absolute()

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def metrics_path(self) -> Path:
        return self.root / METRICS_FILE

    @property
    def tb_dir(self) -> Path:
        return self.root / TB_DIR

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / CHECKPOINT_DIR

    @property
    def damaged_checkpoint_dir(self) -> Path:
        return self.root / DAMAGED_CHECKPOINT_DIR

    def has_checkpoint(self) -> bool:
        """Whether a finalized checkpoint step exists (orbax tmp dirs do not count)."""
        directory = self.checkpoint_dir
        return directory.is_dir() and any(p.name.isdigit() for p in directory.iterdir())

    def remove_if_unused(self, *, remove_root: bool) -> bool:
        """Remove a fresh run's files when it saved no checkpoint; True if removed.

        Only called for a fresh run, whose directory ``check_fresh`` found empty or
        missing: everything in it is this run's own. ``remove_root``: the run made the
        directory itself (else the empty directory the user made is kept).
        """
        if not self.root.is_dir() or self.has_checkpoint():
            return False
        if remove_root:
            shutil.rmtree(self.root, ignore_errors=True)
            return True
        for entry in self.root.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        return True

    def exists_nonempty(self) -> bool:
        return self.root.is_dir() and any(self.root.iterdir())

    def check_fresh(self) -> None:
        """A fresh run must not touch an existing run's files."""
        if self.root.exists() and not self.root.is_dir():
            raise RunDirError(f"run dir {self.root} exists and is not a directory")
        if self.exists_nonempty():
            entries = sorted(p.name for p in self.root.iterdir())
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise RunDirError(
                f"run dir {self.root} is not empty ({shown}); pass --resume to continue that run, "
                "or choose another --run-dir"
            )

    def create(self, config: ExperimentConfig) -> None:
        """Make the directory and write config.json (process 0 only)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.tb_dir.mkdir(exist_ok=True)
        write_json(self.config_path, config_to_dict(config))

    def read_config(self) -> ExperimentConfig:
        if not self.config_path.is_file():
            raise RunDirError(
                f"run dir {self.root} has no {CONFIG_FILE}: nothing to resume "
                "(start it without --resume)"
            )
        try:
            return config_from_dict(json.loads(self.config_path.read_text()))
        except ValueError as error:  # JSONDecodeError and ConfigError are both ValueErrors
            raise RunDirError(f"{self.config_path} cannot be read: {error}") from None

    def check_resumable(self, config: ExperimentConfig) -> ExperimentConfig:
        """The directory's config, after checking ``config`` may continue it; returns the saved one."""
        saved = self.read_config()
        mismatched = [
            f"{field}: {old!r} (run dir) vs {new!r} (now)"
            for field, old, new in config_differences(saved, config)
            if field not in RESUME_SAFE_FIELDS
        ]
        if mismatched:
            raise RunDirError(
                f"cannot resume {self.root} with a different config ("
                + "; ".join(mismatched)
                + "); resume with the same experiment and --set values, or omit the experiment"
                " to use the run dir's config.json"
            )
        return saved

    def update_config(self, config: ExperimentConfig) -> None:
        """Record resume-safe changes (e.g. keep_checkpoints) in config.json."""
        write_json(self.config_path, config_to_dict(config))
