"""One Caravan episode driven step by step, for play sessions and replays (blocking JAX;
call from a worker thread). Needs `envjax` (docs/INTERFACES.md sections 1-3)."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any


@cache
def _engine() -> dict[str, Any]:
    # Compiled once per process: reset and step of one env, jitted. Imported here so the
    # service starts without loading JAX until the first episode.
    import jax
    import jax.numpy as jnp

    from envjax import ACTION_LABELS, CaravanEnv
    from envjax.render import describe

    env = CaravanEnv()
    params = env.default_params
    reset = jax.jit(lambda seed: env.reset_from_seed(seed, params))
    step = jax.jit(lambda state, action: env.step_env(jax.random.PRNGKey(0), state, action, params))
    return {
        "jax": jax,
        "jnp": jnp,
        "labels": ACTION_LABELS,
        "n_actions": env.num_actions,
        "reset": reset,
        "step": step,
        "describe": describe,
        "params": params,
    }


_compile_lock = threading.Lock()


class Episode:
    """An episode from `seed` (uint32), advanced with `step(action)`."""

    def __init__(self, seed: int) -> None:
        with _compile_lock:
            self.e = _engine()
        jnp = self.e["jnp"]
        self.seed = int(seed)
        self.obs, self.state = self.e["reset"](jnp.uint32(self.seed))
        self.done = False
        self.survived: bool | None = None
        self.total_return = 0.0
        self.length = 0
        self.invalid_actions = 0

    def label(self, action: int) -> str:
        return str(self.e["labels"][action])

    def step(self, action: int) -> tuple[float, bool]:
        """Play `action`; returns (reward, invalid). Not to be called once done."""
        jnp = self.e["jnp"]
        obs, state, reward, terminated, truncated, info = self.e["step"](
            self.state, jnp.int32(action)
        )
        self.obs, self.state = obs, state
        reward_f = float(reward)
        invalid = bool(info["invalid"])
        self.total_return += reward_f
        self.length += 1
        self.invalid_actions += int(invalid)
        if bool(terminated) or bool(truncated):
            self.done = True
            self.survived = bool(info["episode_survived"])
        return reward_f, invalid

    def view(self) -> dict:
        """envjax.render.describe of the current state."""
        return self.e["describe"](self.state, self.e["params"])

    def metrics(self, view: dict | None = None) -> dict:
        """Episode metrics; the view's own figures where it has them."""
        ep = (view or {}).get("episode") or {}
        return {
            "return": float(ep.get("return", self.total_return)),
            "profit": float(ep.get("profit", 0.0)),
            "length": int(ep.get("length", self.length)),
            "invalid_actions": int(ep.get("invalid_actions", self.invalid_actions)),
            "survived": self.survived if self.done else None,
        }
