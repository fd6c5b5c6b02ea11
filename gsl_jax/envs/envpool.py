"""The real Procgen games (OpenAI's C++, through EnvPool), stepped on the host.

:class:`EnvPoolProcgen` is a batch of ``num_envs`` Procgen games with our conventions:
observations ``[B, 64, 64, 3]`` uint8 (HWC, EnvPool's ``channel_first=False``), Procgen's 15
actions (the ids of :data:`gsl_jax.envs.procgen.grid.ACTION_NAMES`), auto-reset, and an ``info``
with ``success`` (the finished episode completed its level: EnvPool's ``prev_level_complete``),
``truncated``, ``variation`` (the level seed of the episode the step belongs to) and the finished
episode's return and length. It is the environment of :func:`gsl_jax.host_rollout.train_ppo_envpool`
and the reference the JAX ports (:mod:`gsl_jax.envs.procgen`) are compared against.

Level sets. Procgen restricts levels with one ``(start_level, num_levels)`` range per game
instance (``game.cpp``: each episode draws its seed uniformly from ``[start_level, start_level +
num_levels)``); EnvPool applies one range to a whole pool, and its ``env_seed`` / ``seed`` only
seed each env's random stream, not its levels. An arbitrary set (a specialist's levels) is
therefore split into maximal runs of consecutive seeds, and each run gets its own EnvPool pool
with ``num_levels = len(run)``: one pool for the usual ``range(200)``, one pool per level for a
scattered set, which is the "pin an env to a level with ``num_levels=1``, ``start_level=seed``"
scheme. Envs are shared among the runs in proportion to their length (at least one each), so every
level of the set gets about the same share of env-steps; within a run, levels are drawn per
episode as Procgen draws them. Every step is sent to all pools before any is received, so pools
run in parallel (the cost of splitting one pool into many is in ``docs/benchmarks.md``).

Auto-reset. On ``done`` EnvPool itself would spend the env's next step on a reset (the action is
ignored and the step returns reward 0). We reset finished envs at once instead, so that, as in
:class:`~gsl_jax.envs.core.VecEnv`, the observation returned with ``done`` is the first frame of
the next episode and every step is an action of the agent.

Requirements: ``pip install "gsl-jax[procgen]"`` (EnvPool) and, on Linux, the system Qt 5
runtime (``apt-get install -y libqt5gui5``); :func:`envpool_unavailable_reason` says what is
missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from gsl_jax.envs.core import Box, Discrete
from gsl_jax.envs.procgen.grid import NUM_ACTIONS

#: How to get EnvPool's Procgen working, appended to every "unavailable" message.
INSTALL_HINT = (
    'install EnvPool with `pip install "gsl-jax[procgen]"` and, on Linux, the system Qt 5 '
    "runtime with `apt-get install -y libqt5gui5`"
)

#: Procgen game -> the distribution modes it defines (procgen ``src/games/*.cpp``; EnvPool
#: registers exactly these as ``<Game><Mode>-v0``).
GAME_MODES: dict[str, tuple[str, ...]] = {
    "bigfish": ("easy", "hard"),
    "bossfight": ("easy", "hard"),
    "caveflyer": ("easy", "hard", "memory", "exploration"),
    "chaser": ("easy", "hard", "extreme"),
    "climber": ("easy", "hard", "exploration"),
    "coinrun": ("easy", "hard", "exploration"),
    "dodgeball": ("easy", "hard", "extreme", "memory"),
    "fruitbot": ("easy", "hard"),
    "heist": ("easy", "hard", "memory", "exploration"),
    "jumper": ("easy", "hard", "memory", "exploration"),
    "leaper": ("easy", "hard", "extreme", "exploration"),
    "maze": ("easy", "hard", "memory", "exploration"),
    "miner": ("easy", "hard", "memory"),
    "ninja": ("easy", "hard", "exploration"),
    "plunder": ("easy", "hard"),
    "starpilot": ("easy", "hard", "extreme"),
}

#: Level seeds are int32 and ``start_level + num_levels`` must stay one: ids lie in
#: ``[0, MAX_LEVEL)``, as the ports' ``num_variations = 2**31 - 1``.
MAX_LEVEL = 2**31 - 1


def task_id(game: str, distribution_mode: str) -> str:
    """EnvPool's task id, e.g. ``task_id("maze", "easy") == "MazeEasy-v0"``."""
    return f"{game.capitalize()}{distribution_mode.capitalize()}-v0"


def _load_envpool() -> Any:
    """Import EnvPool and check that its Procgen extension loads; raise ``ImportError`` with
    :data:`INSTALL_HINT` otherwise."""
    try:
        import envpool
    except ImportError as error:
        raise ImportError(f"EnvPool is not installed ({error}); {INSTALL_HINT}") from error
    try:
        import envpool.procgen as procgen

        procgen.ProcgenEnvSpec  # noqa: B018 -- raises ImportError when Qt 5 is missing
    except (ImportError, AttributeError) as error:
        raise ImportError(
            f"EnvPool's Procgen games cannot be loaded ({error}); {INSTALL_HINT}"
        ) from error
    return envpool


def envpool_unavailable_reason() -> str | None:
    """``None`` when EnvPool's Procgen games can be built here, else why not and how to fix it
    (for ``pytest.skip``)."""
    try:
        _load_envpool()
    except ImportError as error:
        return str(error)
    return None


def level_runs(levels: Sequence[int] | np.ndarray) -> list[tuple[int, int]]:
    """The maximal runs of consecutive seeds of a sorted, duplicate-free level list, as
    ``(start_level, num_levels)`` pairs: ``[3, 7, 8, 9, 20] -> [(3, 1), (7, 3), (20, 1)]``."""
    arr = np.asarray(levels, np.int64)
    breaks = np.flatnonzero(np.diff(arr) != 1) + 1
    return [(int(run[0]), len(run)) for run in np.split(arr, breaks)]


def share_envs(sizes: Sequence[int], num_envs: int) -> list[int]:
    """Split ``num_envs`` among groups in proportion to ``sizes``, at least one env each, by
    largest remainder (ties to the earlier group). Requires ``num_envs >= len(sizes)``."""
    sizes_arr = np.asarray(sizes, np.float64)
    spare = num_envs - len(sizes)  # one env per group first, the rest by size
    quota = spare * sizes_arr / sizes_arr.sum()
    counts = np.floor(quota).astype(np.int64)
    order = np.argsort(-(quota - counts), kind="stable")
    counts[order[: spare - int(counts.sum())]] += 1
    return (counts + 1).tolist()


def envpool_spec(
    game: str,
    distribution_mode: str = "easy",
    num_envs: int = 64,
    levels: Sequence[int] | None = None,
    seed: int = 0,
    num_threads: int = 0,
    pinned: bool = False,
) -> dict[str, Any]:
    """The env spec (a run's ``env_spec``, JSON-ready) of ``EnvPoolProcgen(game, ...)`` with
    these arguments, without building it: ``{"name": game, "backend": "envpool", "options":
    {...}}`` with every argument, ``levels`` as ``[start_level, num_levels]`` runs of
    consecutive seeds (:func:`level_runs`; ``None``: the full distribution).
    :meth:`EnvPoolProcgen.from_spec` rebuilds the env."""
    runs = None if levels is None else []  # [] (no level) is refused when rebuilt
    if isinstance(levels, range) and levels.step == 1 and len(levels):
        runs = [[levels.start, len(levels)]]  # without listing a (maybe huge) range
    elif levels is not None and len(levels):
        runs = [list(r) for r in level_runs(sorted(levels))]
    options = {
        "distribution_mode": distribution_mode,
        "num_envs": int(num_envs),
        "levels": runs,
        "seed": int(seed),
        "num_threads": int(num_threads),
        "pinned": bool(pinned),
    }
    return {"name": game, "backend": "envpool", "options": options}


def _is_run(run: Any) -> bool:
    """Whether ``run`` is a valid ``[start_level, num_levels]`` pair of a spec."""
    ints = isinstance(run, list) and len(run) == 2 and all(type(x) is int for x in run)
    return ints and 0 <= run[0] and 1 <= run[1] and run[0] + run[1] <= MAX_LEVEL


class EnvPoolProcgen:
    """``num_envs`` real Procgen games of one kind, stepped on the host with auto-reset.

    Args:
        game: a Procgen game name, e.g. ``"maze"`` (keys of :data:`GAME_MODES`).
        distribution_mode: ``"easy"``, ``"hard"``, ... as the game defines them.
        num_envs: number of parallel games ``B``.
        levels: the level seeds to play (a ``range`` or any sequence of distinct ints in
            ``[0, 2**31 - 1)``); ``None`` plays the full distribution. A set that is not one run
            of consecutive seeds needs ``num_envs`` >= its number of runs (module docstring).
        seed: env ``i`` gets EnvPool seed ``seed + i`` (its level draws and in-game randomness).
        num_threads: EnvPool worker threads per pool (0: EnvPool's default).
        pinned: give every level its own pool even where seeds are consecutive, so each env
            plays one level only (per-level evaluation); needs ``num_envs >= len(levels)``.

    Attributes:
        observation_space: ``Box((64, 64, 3), 0, 255, uint8)``.
        action_space: ``Discrete(15)``.
        num_variations: ``2**31 - 1`` (a variation is a level seed).
        max_episode_steps: the game's time limit (e.g. 500 for maze, 1000 for heist).
        levels: the sorted level seeds, or ``None`` for the full distribution.
        groups: ``(start_level, num_levels, num_envs)`` of each pool, in env order.

    Raises ``ValueError`` naming the argument for a bad argument, before EnvPool is imported, and
    ``ImportError`` with the install commands when EnvPool or Qt 5 is missing.
    """

    observation_space = Box((64, 64, 3), 0, 255, jnp.uint8)
    action_space = Discrete(NUM_ACTIONS)
    num_variations = MAX_LEVEL

    def __init__(
        self,
        game: str,
        distribution_mode: str = "easy",
        num_envs: int = 64,
        levels: Sequence[int] | np.ndarray | None = None,
        seed: int = 0,
        num_threads: int = 0,
        pinned: bool = False,
    ):
        if not isinstance(game, str) or game not in GAME_MODES:
            raise ValueError(f"game: {game!r} is not a Procgen game; known: {sorted(GAME_MODES)}")
        if distribution_mode not in GAME_MODES[game]:
            raise ValueError(
                f"distribution_mode: {game} supports {list(GAME_MODES[game])}, "
                f"got {distribution_mode!r}"
            )
        if not isinstance(num_envs, int | np.integer) or num_envs <= 0:
            raise ValueError(f"num_envs: must be a positive integer, got {num_envs!r}")
        if not isinstance(num_threads, int | np.integer) or num_threads < 0:
            raise ValueError(f"num_threads: must be a non-negative integer, got {num_threads!r}")
        if not isinstance(seed, int | np.integer) or not 0 <= seed < MAX_LEVEL - num_envs:
            raise ValueError(f"seed: must be an integer in [0, 2**31 - 1 - num_envs), got {seed!r}")
        self.game, self.distribution_mode = game, distribution_mode
        self.num_envs, self.seed = int(num_envs), int(seed)
        self.levels = None if levels is None else self._check_levels(levels)
        if pinned and self.levels is None:
            raise ValueError("pinned: needs a finite list of levels")
        self.pinned = bool(pinned)
        self.num_threads = int(num_threads)
        if self.levels is None:
            runs = [(0, 0)]  # num_levels = 0: Procgen's full distribution
        elif pinned:
            runs = [(int(v), 1) for v in self.levels]
        else:
            runs = level_runs(self.levels)
            if len(runs) > self.num_envs:
                raise ValueError(
                    f"num_envs: {self.num_envs} envs cannot cover the {len(runs)} separate runs of "
                    f"consecutive seeds in levels (each run needs its own env); use more envs"
                )
        shares = share_envs([max(n, 1) for _, n in runs], self.num_envs)
        self.groups = [(s, n, k) for (s, n), k in zip(runs, shares, strict=True)]

        envpool = _load_envpool()
        self._pools = []
        offset = 0
        for start, count, n in self.groups:
            pool = envpool.make(
                task_id(game, distribution_mode),
                env_type="gymnasium",
                num_envs=n,
                batch_size=n,
                num_levels=count,
                start_level=start,
                channel_first=False,
                seed=int(seed) + offset,
                num_threads=int(num_threads),
            )
            self._pools.append((offset, n, pool))
            offset += n
        self.max_episode_steps = int(self._pools[0][2].config["max_episode_steps"])
        self._level = np.zeros(self.num_envs, np.int32)
        self._return = np.zeros(self.num_envs, np.float32)
        self._length = np.zeros(self.num_envs, np.int32)
        self._sent = False

    @staticmethod
    def _check_levels(levels: Sequence[int] | np.ndarray) -> np.ndarray:
        arr = np.asarray(levels)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(
                f"levels: expected a non-empty 1-D list of level seeds, got {levels!r}"
            )
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"levels: level seeds must be integers, got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
        if arr.min() < 0 or arr.max() >= MAX_LEVEL:
            raise ValueError(f"levels: level seeds must lie in [0, 2**31 - 1), got {arr.min()}..")
        unique = np.unique(arr)
        if unique.size != arr.size:
            raise ValueError("levels: the level seeds must be distinct")
        return unique

    @property
    def name(self) -> str:
        """E.g. ``"maze-easy"`` (the JAX ports' naming)."""
        return f"{self.game}-{self.distribution_mode}"

    def with_levels(
        self,
        levels: Sequence[int] | np.ndarray | None,
        num_envs: int,
        seed: int,
        pinned: bool = False,
    ) -> EnvPoolProcgen:
        """A new batch of the same game and mode on ``levels`` (the host backend's constructor
        of specialist, evaluation and demo envs, :mod:`gsl_jax.host`)."""
        return EnvPoolProcgen(
            self.game,
            self.distribution_mode,
            num_envs=num_envs,
            levels=levels,
            seed=seed,
            num_threads=self.num_threads,
            pinned=pinned,
        )

    def spec(self) -> dict[str, Any]:
        """The JSON record that rebuilds this env (:func:`envpool_spec`, :meth:`from_spec`)."""
        levels = None if self.levels is None else self.levels.tolist()
        return envpool_spec(
            self.game,
            self.distribution_mode,
            self.num_envs,
            levels,
            self.seed,
            self.num_threads,
            self.pinned,
        )

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> EnvPoolProcgen:
        """The env a :meth:`spec` record describes (options it leaves out take their defaults,
        as in the specs of ``benchmarks/procgen_gsl.py`` runs, which hold the mode only).
        ``ValueError`` naming the field of a malformed record, before EnvPool is imported."""
        if not isinstance(spec, dict) or spec.get("backend") != "envpool":
            raise ValueError(f"env_spec: not an EnvPool env spec (backend 'envpool'): {spec!r}")
        options = spec.get("options", {})
        if not isinstance(options, dict):
            raise ValueError(f"env_spec.options: expected an object, got {options!r}")
        known = ("distribution_mode", "num_envs", "levels", "seed", "num_threads", "pinned")
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ValueError(f"env_spec.options.{unknown[0]}: not an option of EnvPoolProcgen")
        options = dict(options)
        runs = options.get("levels")
        if runs is not None:
            if not isinstance(runs, list) or not all(_is_run(r) for r in runs):
                raise ValueError(
                    "env_spec.options.levels: expected [start_level, num_levels] integer pairs "
                    f"in [0, 2**31 - 1), got {runs!r}"
                )
            options["levels"] = [s + i for s, n in runs for i in range(n)]
        return cls(spec.get("name"), **options)

    @property
    def level_seed(self) -> np.ndarray:
        """int32 ``[B]``: the level each env is playing now."""
        return self._level.copy()

    def reset(self) -> np.ndarray:
        """Start a new episode in every env. Returns uint8 ``[B, 64, 64, 3]``."""
        obs = np.empty((self.num_envs, 64, 64, 3), np.uint8)
        for offset, _, pool in self._pools:
            o, info = pool.reset()
            ids = offset + info["env_id"]
            obs[ids] = o
            self._level[ids] = info["level_seed"]
        self._return[:] = 0.0
        self._length[:] = 0
        self._sent = False
        return obs

    def send(self, action: np.ndarray) -> None:
        """Start stepping every env with ``action`` (int ``[B]``, ids in ``[0, 15)``); finish
        with :meth:`recv`. Splitting the two lets the caller step several batches at once."""
        action = np.asarray(action, np.int32).reshape(self.num_envs)
        for offset, n, pool in self._pools:
            pool.send(action[offset : offset + n], pool.all_env_ids)
        self._sent = True

    def recv(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Finish the step begun by :meth:`send`.

        Returns ``(obs, reward, done, info)``: obs uint8 ``[B, 64, 64, 3]`` (for a finished
        episode the first frame of the next one), reward float32 ``[B]``, done bool ``[B]``
        (terminated or truncated), and info entries ``[B]``:

        * ``success`` bool: the episode ended by completing its level;
        * ``truncated`` bool: the episode ended at the time limit;
        * ``variation`` int32: the level seed of the episode this step belongs to;
        * ``level_seed`` int32: the level being played after the step (the next episode's
          where ``done``);
        * ``episode_return`` float32, ``episode_length`` int32: the finished episode's return
          and length where ``done`` (the running ones elsewhere).
        """
        if not self._sent:
            raise RuntimeError("recv: call send(action) first")
        self._sent = False
        obs = np.empty((self.num_envs, 64, 64, 3), np.uint8)
        reward = np.empty(self.num_envs, np.float32)
        terminated = np.empty(self.num_envs, np.bool_)
        truncated = np.empty(self.num_envs, np.bool_)
        complete = np.empty(self.num_envs, np.bool_)
        for offset, _, pool in self._pools:
            o, r, te, tr, info = pool.recv()
            ids = offset + info["env_id"]  # results come back in completion order
            obs[ids], reward[ids], terminated[ids], truncated[ids] = o, r, te, tr
            complete[ids] = info["prev_level_complete"] != 0
        done = terminated | truncated
        variation = self._level.copy()
        self._return += reward
        self._length += 1
        episode_return, episode_length = self._return.copy(), self._length.copy()
        self._return[done] = 0.0
        self._length[done] = 0
        if done.any():
            self._reset_finished(done, obs)
        info = {
            "success": done & complete,
            "truncated": truncated & ~terminated,
            "variation": variation,
            "level_seed": self._level.copy(),
            "episode_return": episode_return,
            "episode_length": episode_length,
        }
        return obs, reward, done, info

    def step(
        self, action: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """:meth:`send` then :meth:`recv`."""
        self.send(action)
        return self.recv()

    def _reset_finished(self, done: np.ndarray, obs: np.ndarray) -> None:
        """Reset the envs where ``done`` now, writing their first frames into ``obs``."""
        for offset, n, pool in self._pools:
            local = np.flatnonzero(done[offset : offset + n]).astype(np.int32)
            if local.size == 0:
                continue
            o, info = pool.reset(local)
            ids = offset + info["env_id"]
            obs[ids] = o
            self._level[ids] = info["level_seed"]

    def close(self) -> None:
        """Release the pools."""
        for _, _, pool in self._pools:
            close = getattr(pool, "close", None)
            if close is not None:
                close()
        self._pools = []

    def __repr__(self) -> str:
        levels = "all" if self.levels is None else f"{len(self.levels)} levels"
        return f"EnvPoolProcgen({self.name}, num_envs={self.num_envs}, {levels})"


__all__ = [
    "GAME_MODES",
    "INSTALL_HINT",
    "EnvPoolProcgen",
    "envpool_spec",
    "envpool_unavailable_reason",
    "level_runs",
    "share_envs",
    "task_id",
]
