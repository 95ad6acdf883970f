"""CPU XLA flags metarl needs before the JAX backend starts.

jaxlib 0.10.x on CPU deadlocks (0% CPU, forever) in ``jit(vmap(train))`` of a
PPO-style program over two or more seeds once it runs two or more updates. The
concurrency-optimised scheduler is the cause; turning it off costs no speed.
jaxlib 0.9.x does not know the flag (and would abort on it), so it is only added
for 0.10+. XLA reads XLA_FLAGS when the backend first starts, so this must run
before any array is created: importing ``metarl`` does it.
"""

from __future__ import annotations

import os
from importlib import metadata

CPU_SCHEDULER_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler=false"


def _jaxlib_version() -> tuple[int, ...]:
    try:
        text = metadata.version("jaxlib")
    except metadata.PackageNotFoundError:
        return (0,)
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


def needs_scheduler_flag() -> bool:
    return _jaxlib_version() >= (0, 10)


def apply_cpu_flags() -> None:
    """Append the deadlock workaround to XLA_FLAGS unless the user set it."""
    if not needs_scheduler_flag():
        return
    current = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_enable_concurrency_optimized_scheduler" in current:
        return
    os.environ["XLA_FLAGS"] = (current + " " + CPU_SCHEDULER_FLAG).strip()


def backend_has_flag() -> bool:
    """True when the flag is in force (or not needed) for the running backend."""
    if not needs_scheduler_flag():
        return True
    return CPU_SCHEDULER_FLAG in os.environ.get("XLA_FLAGS", "")
