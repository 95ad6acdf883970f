import os

# Tests run on the CPU whatever the machine has; the scheduler flag is added by metarl itself.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import metarl  # noqa: E402,F401  (applies the CPU XLA flags before jax starts)
