"""The base of the families whose episodes end by time: gymnax's auto-reset, drawn once.

gymnax's ``Environment.step`` splits the key and computes a whole ``reset_env`` every
step, then selects between the stepped and the reset state. A meta-RL episode here
never ends by chance, only when its clock runs out, so a step's own random numbers
can also feed the reset (only one of the two is ever kept); and a family's cheap
randomness (``metarl.envs.key_hash`` words, or one uniform draw) makes that one draw
the whole cost. ``MetaEnv.step`` is that step, written once; a family supplies

* ``step_and_draw(key, state, action, params) -> (stepped, reward, info, fresh)``:
  the transition and, from the same draw, what an auto-reset switches to;
* optionally ``auto_reset`` (how ``fresh`` replaces the stepped state, by default
  all of it) and ``final_observation`` (by default the stepped state's).

``step_env`` (gymnax's transition without reset) is ``step_and_draw`` minus the reset.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from gymnax.environments import environment
from gymnax.environments.environment import TEnvParams, TEnvState


class MetaEnv(environment.Environment[TEnvState, TEnvParams]):
    """A gymnax env whose episodes end only by time, stepped with one random draw."""

    def step_and_draw(
        self, key: jax.Array, state: TEnvState, action: jax.Array, params: TEnvParams
    ) -> tuple[TEnvState, jax.Array, dict[str, Any], Any]:
        """``(stepped state, reward, info, fresh)``: one transition and its reset draw."""
        raise NotImplementedError(f"abstract: {type(self).__name__} must define step_and_draw")

    def auto_reset(
        self, done: jax.Array, fresh: Any, stepped: TEnvState, params: TEnvParams
    ) -> TEnvState:
        """The state after the step: ``fresh`` where the episode is done, else ``stepped``."""
        return jax.tree.map(lambda reset, kept: jnp.where(done, reset, kept), fresh, stepped)

    def final_observation(
        self, stepped: TEnvState, obs: jax.Array, params: TEnvParams
    ) -> jax.Array:
        """``info['final_observation']``: the observation of the state before any reset."""
        return self.get_obs(stepped, params)

    def step_env(self, key: jax.Array, state: TEnvState, action: jax.Array, params: TEnvParams):
        stepped, reward, info, _ = self.step_and_draw(key, state, action, params)
        return self.get_obs(stepped, params), stepped, reward, jnp.zeros((), bool), info

    @partial(jax.jit, static_argnames=("self",))
    def step(
        self,
        key: jax.Array,
        state: TEnvState,
        action: int | jax.Array,
        params: TEnvParams | None = None,
    ):
        """gymnax's auto-resetting step, with the transition and the reset from one draw.

        Same outputs and distribution as gymnax's ``step`` for an env that never
        terminates: the reset's randomness is independent of the transition's, and
        only one of them is kept. The observation is computed once, from the kept state.
        """
        if params is None:
            params = self.default_params
        stepped, reward, info, fresh = self.step_and_draw(key, state, action, params)
        terminated = jnp.zeros((), bool)
        truncated = self.is_truncated(stepped, params)
        next_state = self.auto_reset(truncated, fresh, stepped, params)
        obs = self.get_obs(next_state, params)
        info = {
            **info,
            "terminated": terminated,
            "truncated": truncated,
            "final_observation": self.final_observation(stepped, obs, params),
        }
        return obs, next_state, reward, terminated, truncated, info

    def is_terminated(self, state: TEnvState, params: TEnvParams) -> jax.Array:
        return jnp.zeros((), bool)
