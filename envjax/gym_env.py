"""Gymnasium wrapper of the plain-Python reference env (no JAX needed).

    env = CaravanGymEnv()
    obs, info = env.reset(seed=1)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())

`info["action_mask"]` (and `action_masks()`) give the valid actions for masked policies.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from envjax import constants as C
from envjax.reference import ReferenceEnv
from envjax.render import describe, to_text


class CaravanGymEnv(gym.Env):
    """Caravan as a Gymnasium Env: Discrete(69) actions, Box(260) float32 observations.

    `reset(seed=s)` starts episode 0 of base seed s; `reset()` without a seed continues
    with the next episode of the current base seed (the JAX env's auto-reset sequence);
    the very first reset without a seed draws a base seed from `np_random`.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"]}  # noqa: RUF012 (gymnasium's type)

    def __init__(self, render_mode: str | None = None, env_index: int = 0) -> None:
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.render_mode = render_mode
        self.env_index = env_index
        self.action_space = gym.spaces.Discrete(C.N_ACTIONS)
        self.observation_space = gym.spaces.Box(
            low=np.asarray(C.OBS_LOW, np.float32),
            high=np.asarray(C.OBS_HIGH, np.float32),
            shape=(C.OBS_DIM,),
            dtype=np.float32,
        )
        self._env: ReferenceEnv | None = None

    def _obs(self, obs: list[float]) -> np.ndarray:
        return np.asarray(obs, np.float32)

    def action_masks(self) -> np.ndarray:
        """bool[69]: the valid actions now."""
        if self._env is None:
            raise RuntimeError("call reset() first")
        return np.asarray(self._env.action_mask(), bool)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self._env = ReferenceEnv(int(seed) & C.MASK32, self.env_index)
            obs, info = self._env.reset()
        elif self._env is None:
            base = int(self.np_random.integers(0, 2**32))
            self._env = ReferenceEnv(base, self.env_index)
            obs, info = self._env.reset()
        else:
            obs, info = self._env.reset()
        info = {**info, "action_mask": self.action_masks()}
        return self._obs(obs), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._env is None:
            raise RuntimeError("call reset() first")
        if not self.action_space.contains(action):
            raise ValueError(f"action must be an int in [0, {C.N_ACTIONS}), got {action!r}")
        obs, reward, terminated, truncated, info = self._env.step(int(action))
        info = {**info, "action_mask": self.action_masks()}
        return self._obs(obs), float(reward), terminated, truncated, info

    def render(self) -> str | None:
        if self.render_mode != "ansi" or self._env is None:
            return None
        return to_text(describe(self._env.state))


ENV_ID = "envjax/Caravan-v0"
if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="envjax.gym_env:CaravanGymEnv")
