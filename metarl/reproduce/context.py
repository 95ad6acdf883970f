"""What a reproduction's measure module gets for one setting (``measure(context, **options)``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from metarl.config import ExperimentConfig
from metarl.reporting import log as default_log
from metarl.reproduce.spec import Setting


@dataclasses.dataclass
class SettingContext:
    """One trained setting: its config (``--set`` applied) and where it trained."""

    setting: Setting
    config: ExperimentConfig | None
    """The trained config (None for a sweep setting)."""
    directory: Path
    """``DIR/settings/<name>``: the run dir is ``run/`` in it; a sweep's out dir is it."""
    run_dir: Path | None
    sweep_summary: dict[str, Any] | None = None
    """A sweep setting's ``sweep_summary.json`` content (None for a config setting)."""
    log: Callable[[str], None] = default_log

    def frozen(self, checkpoint: str | int = "latest"):
        """The run's checkpoint as a frozen policy (``metarl.runner.frozen.FrozenRun``)."""
        from metarl.runner.frozen import load_frozen_run

        if self.run_dir is None:
            raise ValueError(f"setting {self.setting.name!r} is a sweep: it has no single run")
        return load_frozen_run(self.run_dir, checkpoint)
