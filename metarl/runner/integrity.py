"""Checksums of a checkpoint's arrays, recorded at save and verified on every restore.

orbax (0.12) checksums none of the array bytes it writes: arrays go to zarr v2
chunks (zstd, no content checksum) inside an OCDBT store whose crc32c covers its
index nodes only, so a flipped block in a data file restores silently with
changed values. Hence our own digest per array: blake2b of the array's bytes,
with its dtype and shape, keyed by its tree path written as orbax names arrays
(``params.core.input.bias``): a dict key and a dataclass field of the same name
give the same path, so a partial restore of ``{"params": ...}`` from a saved
``TrainState`` finds the checksums of its arrays.

Multi-host: an array spread over processes is hashed as its global value,
gathered to every host (``process_allgather``), so every process computes the same
digests and reaches the same verdict on restore. That gather is a collective:
every process must call ``array_digests`` / ``find_mismatch`` together, as they
already call save and restore together.
"""

from __future__ import annotations

import hashlib
from typing import Any

import jax
import numpy as np

ALGORITHM = "blake2b-128"
"""Names the digest in the sidecar, so a later change of hash is detected, not misread."""


def host_array(x: Any) -> np.ndarray:
    """A host numpy copy of ``x``'s global value (gathered when spread over processes).

    Typed PRNG keys become their raw key data (numpy has no key dtype). Every
    process must call this together for an array that is not fully addressable.
    """
    if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    if not isinstance(x, jax.Array) or x.is_fully_addressable:
        return np.asarray(x)
    if x.is_fully_replicated:
        return np.asarray(x.addressable_data(0))
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def all_processes_ok(ok: bool) -> bool:
    """Whether ``ok`` holds on every process (a collective when there are several).

    Each process reads only its own shards, so one may fail to read a damaged file
    that another never opens; all must then refuse alike, and none may go on to a
    collective (the checksum gather) that the failed ones will not join.
    """
    if jax.process_count() == 1:
        return ok
    from jax.experimental import multihost_utils

    return bool(np.all(multihost_utils.process_allgather(np.asarray(ok))))


def digest(value: np.ndarray) -> str:
    """blake2b (128-bit) of the C-ordered bytes of ``value``."""
    data = np.ascontiguousarray(value)
    return hashlib.blake2b(memoryview(data).cast("B"), digest_size=16).hexdigest()


def describe(value: np.ndarray) -> dict[str, Any]:
    return {"dtype": str(value.dtype), "shape": list(value.shape), "digest": digest(value)}


def leaf_name(path: tuple[Any, ...]) -> str:
    """A tree path as orbax names the array: keys, fields and indices joined by dots."""
    parts = []
    for entry in path:
        if isinstance(entry, jax.tree_util.DictKey):
            parts.append(str(entry.key))
        elif isinstance(entry, jax.tree_util.GetAttrKey):
            parts.append(entry.name)
        elif isinstance(entry, jax.tree_util.SequenceKey):
            parts.append(str(entry.idx))
        else:  # FlattenedIndexKey and any other key type
            parts.append(str(getattr(entry, "key", entry)))
    return ".".join(parts)


def array_digests(tree: Any) -> dict[str, dict[str, Any]]:
    """{tree path: {dtype, shape, digest}} for every array leaf of ``tree``."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {leaf_name(path): describe(host_array(leaf)) for path, leaf in leaves}


def find_mismatch(tree: Any, recorded: dict[str, Any]) -> tuple[str, str] | None:
    """(tree path, reason) of the first leaf of ``tree`` that differs from ``recorded``.

    Every leaf of ``tree`` must have a recorded digest; recorded leaves that ``tree``
    does not hold (a restore of part of the state) are not read, so not checked.
    """
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    for path, leaf in leaves:
        name = leaf_name(path)
        expected = recorded.get(name)
        if not isinstance(expected, dict):
            return name, "no checksum was recorded for this array at save"
        actual = describe(host_array(leaf))
        for key in ("dtype", "shape"):
            if actual[key] != expected.get(key):
                return name, f"{key} {actual[key]} differs from the saved {expected.get(key)}"
        if actual["digest"] != expected.get("digest"):
            return name, (
                f"checksum mismatch: saved {ALGORITHM} {expected.get('digest')}, "
                f"read {actual['digest']} (the data changed after it was saved)"
            )
    return None
