"""Maze layouts: random mazes on the host, and the tables the env gathers from.

Layouts. A maze of m x m cells lives on a (2m+1) x (2m+1) grid: cells at odd
(row, col), walls everywhere else, and the wall square between two neighbouring
cells is opened when the maze joins them, so a move is always one grid square. The
generator is randomized Kruskal: visit the 2m(m-1) cell-to-cell walls in a uniformly
random order and open each one that joins two still-separate regions. That gives a
perfect maze (a spanning tree: one path between any two cells; the "Kruskal maze"
distribution, not the uniform spanning tree that Wilson's algorithm would give).
``extra_openings`` then knocks out that many of the (m-1)^2 walls still standing
between cells, chosen at random, which adds loops so that detours vary more. Every
layout has exactly F = 2m^2 - 1 + extra_openings free squares, which fixes the shape
of every table below. m = 5 gives an 11 x 11 grid, the size of gymnax's MetaMaze.

Precomputed tables (host side, at make time; ``reset`` and ``step`` only gather).
For every layout of the split in use, indexed by free square (row-major order):
``distance`` [F, F] all-pairs shortest paths (int8, or int16 when F > 127),
``neighbours`` [F, 4] the square each action leads to, ``view`` [F] the 3 x 3 patch
packed in 9 bits, ``cells`` [F, 2] grid coordinates, and the ``walls`` grid.
All-pairs rather than per-(layout, goal) maps because drift may move the goal
anywhere in the layout. For m = 5 that is about 2.9 kB per layout, 12 MB for the
4096-layout bank; a config needing more than 512 MiB is refused.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from metarl.errors import ConfigError

MOVES = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]])  # MetaMaze's order: up, right, down, left
VIEW_OFFSETS = np.array([(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)])
_MAX_DRAW_ROUNDS = 8


@struct.dataclass
class MazeLayouts:
    """Per-layout tables, precomputed on the host (leading axis = layout)."""

    walls: jax.Array
    """[L, 2m+1, 2m+1] bool: True where a wall is."""
    cells: jax.Array
    """[L, F, 2] int8: grid (row, col) of free square i (row-major order)."""
    neighbours: jax.Array
    """[L, F, 4] int8/int16: free square each action leads to (the same square into a wall)."""
    view: jax.Array
    """[L, F] int16: 3 x 3 wall patch around square i, bit j = VIEW_OFFSETS[j]."""
    distance: jax.Array
    """[L, F, F] int8/int16: BFS steps between free squares."""


def num_free_cells(cells_per_side: int, extra_openings: int) -> int:
    return 2 * cells_per_side**2 - 1 + extra_openings


def _cell_walls(cells_per_side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each wall between two neighbouring cells: the two cell ids and its grid square."""
    m = cells_per_side
    first, second, rows, cols = [], [], [], []
    for r in range(m):
        for c in range(m):
            if c + 1 < m:
                first.append(r * m + c), second.append(r * m + c + 1)
                rows.append(2 * r + 1), cols.append(2 * c + 2)
            if r + 1 < m:
                first.append(r * m + c), second.append((r + 1) * m + c)
                rows.append(2 * r + 2), cols.append(2 * c + 1)
    return tuple(np.array(x, np.int32) for x in (first, second, rows, cols))


def sample_layouts(
    rng: np.random.Generator, count: int, cells_per_side: int, extra_openings: int
) -> np.ndarray:
    """[count, 2m+1, 2m+1] bool walls of random mazes (randomized Kruskal, then extra openings).

    Row i depends only on the generator's state and i's place, not on ``count``, so a
    smaller pool drawn from the same seed is a prefix of a larger one.
    """
    m = cells_per_side
    first, second, rows, cols = _cell_walls(m)
    num_walls = len(first)
    uniforms = rng.random((count, 2 * num_walls))
    order = np.argsort(uniforms[:, :num_walls], axis=1)
    region = np.tile(np.arange(m * m), (count, 1))
    opened = np.zeros((count, num_walls), bool)
    maze = np.arange(count)
    for i in range(num_walls):  # every maze at once, one wall each
        wall = order[:, i]
        keep, absorb = region[maze, first[wall]], region[maze, second[wall]]
        # Relabel absorb's region as keep's; a no-op when both are already one region.
        region = np.where(region == absorb[:, None], keep[:, None], region)
        opened[maze, wall] = keep != absorb
    if extra_openings:
        # Closed walls score in [0, 1), open ones -1: the top scores are closed walls.
        score = np.where(opened, -1.0, uniforms[:, num_walls:])
        knocked = np.argsort(-score, axis=1)[:, :extra_openings]
        opened[maze[:, None], knocked] = True
    walls = np.ones((count, 2 * m + 1, 2 * m + 1), bool)
    walls[:, 1::2, 1::2] = False
    walls[:, rows, cols] = ~opened
    return walls


def distinct_layouts(
    task_seed: int,
    stream: int,
    count: int,
    cells_per_side: int,
    extra_openings: int,
    exclude: set[bytes],
    owner: str,
    field: str,
) -> np.ndarray:
    """``count`` distinct layouts from ``(task_seed, stream)``, none of them in ``exclude``."""
    kept: list[np.ndarray] = []
    seen = set(exclude)
    for round_index in range(_MAX_DRAW_ROUNDS):
        rng = np.random.default_rng([task_seed, stream, round_index])
        batch = 2 * max(count - len(kept), 8)
        for walls in sample_layouts(rng, batch, cells_per_side, extra_openings):
            fingerprint = np.packbits(walls).tobytes()
            if fingerprint in seen:
                continue
            seen.add(fingerprint)
            kept.append(walls)
            if len(kept) == count:
                return np.stack(kept)
    raise ConfigError(
        f"{owner}: field '{field}' = {count}: found only {len(kept)} distinct mazes with "
        f"cells_per_side={cells_per_side}, extra_openings={extra_openings} (besides {len(exclude)} "
        "excluded training layouts); ask for fewer or use bigger mazes"
    )


def layout_fingerprints(walls: np.ndarray) -> set[bytes]:
    return {np.packbits(w).tobytes() for w in np.asarray(walls, bool)}


def index_dtype(count: int):
    return np.int8 if count <= np.iinfo(np.int8).max else np.int16


@jax.jit
def _all_pairs_distance(neighbours: jax.Array) -> jax.Array:
    """[L, F, 4] neighbour table -> [L, F, F] shortest-path steps (F where unreachable).

    Floyd-Warshall over unit-length moves equals BFS distance; as dense int16 array
    arithmetic it beats a gather-based BFS on the CPU by 50x.
    """
    num_layouts, num_cells, _ = neighbours.shape
    unreached = jnp.int16(num_cells)  # any real distance is at most F - 1
    cells = jnp.arange(num_cells)[:, None]
    adjacent = jax.vmap(
        lambda nbr: jnp.zeros((num_cells, num_cells), bool).at[cells, nbr].set(True)
    )(neighbours)
    dist = jnp.where(adjacent, jnp.int16(1), unreached)
    dist = jnp.where(jnp.eye(num_cells, dtype=bool), jnp.int16(0), dist)

    def through(k, dist):
        via_k = jax.lax.dynamic_slice_in_dim(dist, k, 1, 2) + jax.lax.dynamic_slice_in_dim(
            dist, k, 1, 1
        )
        return jnp.minimum(dist, via_k)

    return jax.lax.fori_loop(0, num_cells, through, dist)


def tabulate_layouts(walls: np.ndarray) -> MazeLayouts:
    """Every table ``Maze`` gathers from, for a stack of [L, G, G] wall grids."""
    walls = np.asarray(walls, bool)
    num_layouts, side, _ = walls.shape
    free = ~walls.reshape(num_layouts, -1)
    counts = free.sum(1)
    if not np.all(counts == counts[0]):
        raise ValueError("layouts differ in their number of free squares")
    num_cells = int(counts[0])
    flat = np.nonzero(free)[1].reshape(num_layouts, num_cells)  # row-major per layout
    index_of = np.full((num_layouts, side * side), -1, np.int64)
    np.put_along_axis(index_of, flat, np.arange(num_cells)[None], axis=1)
    own = np.broadcast_to(np.arange(num_cells), flat.shape)
    # The outer wall keeps every free square's 3 x 3 patch inside the grid.
    neighbours = np.stack(
        [
            np.where(
                np.take_along_axis(free, target, 1), np.take_along_axis(index_of, target, 1), own
            )
            for target in (flat + dr * side + dc for dr, dc in MOVES)
        ],
        axis=-1,
    )
    view = np.zeros(flat.shape, np.int64)
    for bit, (dr, dc) in enumerate(VIEW_OFFSETS):
        view |= (~np.take_along_axis(free, flat + dr * side + dc, 1)).astype(np.int64) << bit
    # Chunks of about 1 MB stay in cache through the F passes; padding every chunk to
    # the same shape compiles _all_pairs_distance once per F, not once per pool size.
    chunk = max(1, 2**20 // (2 * num_cells * num_cells))
    padded = np.concatenate(
        [neighbours, np.broadcast_to(own[:1, :, None], (-num_layouts % chunk, num_cells, 4))]
    )
    distance = np.concatenate(
        [
            np.asarray(_all_pairs_distance(jnp.asarray(padded[i : i + chunk], jnp.int32)))
            for i in range(0, num_layouts, chunk)
        ]
    )[:num_layouts]
    small_index = index_dtype(num_cells)
    return MazeLayouts(
        walls=jnp.asarray(walls),
        cells=jnp.asarray(np.stack([flat // side, flat % side], -1).astype(np.int8)),
        neighbours=jnp.asarray(neighbours.astype(small_index)),
        view=jnp.asarray(view.astype(np.int16)),
        distance=jnp.asarray(distance.astype(small_index)),
    )
