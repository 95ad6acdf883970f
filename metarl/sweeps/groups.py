"""Vmapped sweep training: the points that share shapes train as ONE compiled program.

Two points can share a program when their configs differ only in what is traced
data: the task pool (``env.overrides.num_tasks``), the pool's seed
(``env.overrides.task_seed``) and the training seed (``run.seed``). Pools of
different N become one shape by padding every pool to the group's largest N
(``env.overrides.pool_capacity``; the env draws uniformly among the first N tasks,
bit-identical to the unpadded pool, see ``metarl.envs.distributions``). Each point's
``run.num_seeds`` seeds then become members of one ``Trainer`` whose env params
carry a leading member axis (``env_params_per_seed``): ``[points x seeds]`` members,
one ``vmap``, one compile, sharded like any run over the mesh.

``num_tasks = inf`` (a fresh prior draw every episode) has no pool at all, a
different static structure, so it forms its own group. Points that differ in
anything else (hidden size, learning rate, ...) also form their own groups and
train one group after another.

A group trains through ``metarl.runner.train_loop.train`` into its own run dir, so
it checkpoints, resumes bit-identically and reports progress like any run; the
group's ``config.json`` is its first point's config with ``run.num_seeds`` =
members, and ``sweep_group.json`` beside it lists every member's point and seeds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from metarl.config import ExperimentConfig
from metarl.config_io import config_to_dict

TRACED_FIELDS = ("env.overrides.num_tasks", "env.overrides.task_seed", "run.seed")
"""What may differ between the points of one group (traced data, not shapes)."""

GROUP_FILE = "sweep_group.json"


def num_tasks_of(config: ExperimentConfig) -> int | None:
    """The config's training-pool size N, None for a fresh prior draw ('inf', 'none', None)."""
    from metarl.envs.distributions import parse_num_tasks

    return parse_num_tasks(config.env.overrides.get("num_tasks"))


@dataclasses.dataclass(frozen=True)
class Group:
    """Points that train in one compiled program."""

    index: int
    point_indices: tuple[int, ...]
    point_configs: tuple[ExperimentConfig, ...]
    pool_capacity: int | None
    """Largest N in the group (every pool padded to it); None for the prior (inf) group."""

    @property
    def seeds_per_point(self) -> int:
        return self.point_configs[0].run.num_seeds

    @property
    def num_members(self) -> int:
        return len(self.point_configs) * self.seeds_per_point

    def member_config(self, config: ExperimentConfig) -> ExperimentConfig:
        """A point's config as its group trains it (its pool padded to the capacity)."""
        if self.pool_capacity is None:
            return config
        overrides = {**config.env.overrides, "pool_capacity": self.pool_capacity}
        return dataclasses.replace(config, env=dataclasses.replace(config.env, overrides=overrides))

    @property
    def config(self) -> ExperimentConfig:
        """The group run's config: its first member's, with one seed per member."""
        first = self.member_config(self.point_configs[0])
        return dataclasses.replace(
            first, run=dataclasses.replace(first.run, num_seeds=self.num_members)
        )

    @property
    def key(self) -> str:
        """Short hash of every member's config: a group dir of other settings never matches."""
        text = json.dumps([config_to_dict(self.member_config(c)) for c in self.point_configs])
        return hashlib.sha1(text.encode()).hexdigest()[:10]

    @property
    def dir_name(self) -> str:
        return f"group{self.index}-{self.key}"


def _shared_part(config: ExperimentConfig) -> str:
    """The config with the traced fields blanked: equal strings can share a program."""
    data = config_to_dict(config)
    overrides = dict(data["env"]["overrides"])
    finite = num_tasks_of(config) is not None
    overrides.pop("num_tasks", None)
    overrides.pop("task_seed", None)
    data["env"] = {**data["env"], "overrides": overrides}
    data["run"] = {k: v for k, v in data["run"].items() if k != "seed"}
    return json.dumps(data, sort_keys=True) + ("|pool" if finite else "|prior")


def plan_groups(configs: Sequence[ExperimentConfig]) -> list[Group]:
    """Group point configs (in sweep order) into vmappable groups, first appearance first."""
    by_shared: dict[str, list[int]] = {}
    for index, config in enumerate(configs):
        by_shared.setdefault(_shared_part(config), []).append(index)
    groups = []
    for group_index, indices in enumerate(by_shared.values()):
        members = tuple(configs[i] for i in indices)
        sizes = [num_tasks_of(c) for c in members]
        capacity = None if sizes[0] is None else max(sizes)
        groups.append(Group(group_index, tuple(indices), members, capacity))
    return groups


def member_env_params(group: Group) -> Any:
    """Env params of every member, stacked: leaves ``[num_members, ...]`` (point-major)."""
    from metarl import envs

    per_point = [
        envs.make(c.env.name, **group.member_config(c).env.overrides)[1]
        for c in group.point_configs
    ]
    seeds = group.seeds_per_point
    return jax.tree.map(
        lambda *leaves: jnp.asarray(np.repeat(np.stack(leaves), seeds, axis=0)), *per_point
    )


def member_seed_keys(group: Group) -> jax.Array:
    """``[num_members, 2]`` uint32: seed i of a point trains from ``fold_in(key(run.seed), i)``,
    exactly as that point trained alone would (``Trainer.seed_keys``)."""
    keys = []
    for config in group.point_configs:
        raw = jax.random.key_data(jax.random.key(config.run.seed))
        keys.append(
            jax.vmap(lambda i, raw=raw: jax.random.fold_in(raw, i))(
                jnp.arange(config.run.num_seeds)
            )
        )
    return jnp.concatenate(keys, axis=0)


class GroupTrainer:
    """A ``Trainer`` over a group's members whose ``init`` uses the members' own seed keys.

    ``train_loop.train`` calls ``init(key(config.run.seed))``; a group's members come
    from several points, each with its own ``run.seed``, so the key is replaced by the
    per-member keys. Everything else is the wrapped trainer's.
    """

    def __init__(self, group: Group, mesh: jax.sharding.Mesh | None = None):
        from metarl.training.trainer import make_trainer

        self.group = group
        self.trainer = make_trainer(
            group.config,
            mesh,
            env_params=member_env_params(group),
            env_params_per_seed=True,
        )
        self.seed_keys = member_seed_keys(group)

    def init(self, key: jax.Array):
        del key  # every member's key comes from its own point (see the class docstring)
        return self.trainer.init_from_seed_keys(self.seed_keys)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.trainer, name)


def describe_group(group: Group, labels: Sequence[str]) -> dict[str, Any]:
    """What ``sweep_group.json`` records: which member rows belong to which point."""
    seeds = group.seeds_per_point
    return {
        "pool_capacity": group.pool_capacity,
        "seeds_per_point": seeds,
        "members": [
            {
                "point": labels[i],
                "point_index": i,
                "member_rows": [k * seeds, (k + 1) * seeds],
                "run_seed": group.point_configs[k].run.seed,
            }
            for k, i in enumerate(group.point_indices)
        ],
    }


def write_group_file(group_dir: Path, group: Group, labels: Sequence[str]) -> None:
    from metarl.reporting import write_json

    write_json(group_dir / GROUP_FILE, describe_group(group, labels))
