import os
import tempfile

# Tests run on the CPU whatever the machine has; the scheduler flag is added by metarl itself.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

import metarl  # noqa: E402,F401  (applies the CPU XLA flags before jax starts)

# Many tests build the same tiny programs through different entry points (a trainer per
# CLI call, a player per eval), which jit's in-memory cache cannot match; a compilation
# cache keyed by the program itself compiles each once per session. A fresh directory per
# session, so nothing carries over between runs.
if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    jax.config.update("jax_compilation_cache_dir", tempfile.mkdtemp(prefix="metarl-tests-xla-"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
