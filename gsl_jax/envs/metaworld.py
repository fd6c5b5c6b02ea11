"""Meta-World MT-10 / MT-50 (the ``metaworld`` 3.x package, MuJoCo), stepped on the host.

:class:`MetaWorldVecEnv` is a batch of ``num_envs`` Meta-World arms with the conventions of a
:class:`gsl_jax.host_rollout.HostVecEnv`: observations float32 ``[B, 39 + num_tasks]`` (Meta-World's
39 floats, then the one-hot task id, as ``use_one_hot=True`` and the GSL release append it),
actions float32 ``[B, 4]`` in ``[-1, 1]`` (clipped before stepping), auto-reset, 500-step
episodes ended by truncation (never by termination), and an ``info`` with ``success``,
``truncated``, ``variation``, the raw per-step flag ``step_success`` and the running episode's
return and length.

Variations. ``goal_variations=False`` (the default): a variation is a task id, the index in the
benchmark's task order (:data:`MT10_TASKS`; MT-50 in ``metaworld.MT50``'s order), and every reset
draws one of the task's 50 goal/object configurations uniformly, as Meta-World's own
``RandomTaskSelectWrapper`` does. ``goal_variations=True``: a variation is ``task * 50 + goal``,
one fixed configuration. The configurations are those of ``metaworld.MT10(seed=benchmark_seed)``
(or ``MT50``), so every env built with the same ``benchmark_seed`` has the same 50 goals per
task; ``seed`` only seeds each env's own draws (which variation and goal an episode gets), so
the envs :meth:`MetaWorldVecEnv.with_levels` builds for specialists and evaluation with other
seeds play the same goals.

Pinning. ``variations`` restricts the envs to a subset (a specialist's tasks). Env ``i`` plays
``variations[i % V]`` when ``num_envs >= V`` (then every variation gets at least one env; with
``num_envs = V``, one env each, as the MT-10 vector env), and otherwise the variations
``variations[i::num_envs]``, drawing one per episode. ``pinned=True`` insists on the first case.

Success. Meta-World sets ``info["success"]`` per step; the benchmark counts an episode as solved
if the flag was set at ANY step. ``info["success"]`` here is that flag latched over the episode
(set from the first successful step to the episode's end), so at ``done`` it is the benchmark's
episode outcome, which is where the library reads ``success`` (episode statistics, the demo
filter, selection). The raw flag of the step is ``info["step_success"]``.

:func:`evaluate_success` is the benchmark's evaluation protocol: one episode per (task, goal)
with the deterministic action, success if the flag is set at any step, averaged over each
task's goals.

Requirements: ``pip install "gsl-jax[metaworld]"`` (metaworld 3.1.1 pins MuJoCo 3.3.0; see
``docs/metaworld.md``). Meta-World keeps its goal data pickled in memory (``Task.data``, its own
``pickle.dumps`` output); no file is ever unpickled here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gsl_jax.envs.core import Box

#: How to get Meta-World, appended to every "unavailable" message.
INSTALL_HINT = (
    'install it with `pip install "gsl-jax[metaworld]"` (metaworld 3.1.1 with MuJoCo 3.3.0; '
    "docs/metaworld.md)"
)

#: The MT-10 tasks in the benchmark's order (= the task ids, = the GSL release's order).
MT10_TASKS: tuple[str, ...] = (
    "reach-v3",
    "push-v3",
    "pick-place-v3",
    "door-open-v3",
    "drawer-open-v3",
    "drawer-close-v3",
    "button-press-topdown-v3",
    "peg-insert-side-v3",
    "window-open-v3",
    "window-close-v3",
)

BENCHMARKS = ("MT10", "MT50")
#: Goal/object configurations Meta-World samples per task.
NUM_GOALS = 50
#: Meta-World's time limit (``SawyerXYZEnv.max_path_length``).
MAX_EPISODE_STEPS = 500
#: Meta-World's observation size, before the one-hot task id.
BASE_OBS_DIM = 39


def _load_metaworld() -> Any:
    """Import ``metaworld``; raise ``ImportError`` with :data:`INSTALL_HINT` otherwise."""
    try:
        import metaworld
    except ImportError as error:
        raise ImportError(f"Meta-World is not installed ({error}); {INSTALL_HINT}") from error
    return metaworld


def metaworld_unavailable_reason() -> str | None:
    """``None`` when Meta-World can be imported here, else why not and how to fix it."""
    try:
        _load_metaworld()
    except ImportError as error:
        return str(error)
    return None


@functools.lru_cache(maxsize=4)
def _benchmark(name: str, seed: int) -> Any:
    """``metaworld.MT10(seed=seed)`` / ``MT50``, built once per process (MT-50 takes ~30 s)."""
    return getattr(_load_metaworld(), name)(seed=seed)


def task_names(benchmark: str = "MT10") -> tuple[str, ...]:
    """The benchmark's task names in task-id order (MT-10: :data:`MT10_TASKS`; MT-50 builds
    the benchmark, ~30 s)."""
    _check_benchmark(benchmark)
    if benchmark == "MT10":
        return MT10_TASKS
    return tuple(_benchmark(benchmark, 0).train_classes)


def _check_benchmark(benchmark: str) -> None:
    if benchmark not in BENCHMARKS:
        raise ValueError(f"benchmark: {benchmark!r} is not one of {list(BENCHMARKS)}")


def task_ids(names: Sequence[str], benchmark: str = "MT10") -> list[int]:
    """The task ids of task ``names`` (e.g. ``["reach-v3"] -> [0]``); ``ValueError`` naming an
    unknown task and listing the benchmark's."""
    names = [names] if isinstance(names, str) else list(names)
    known = task_names(benchmark)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"tasks: {unknown} are not {benchmark} tasks; known: {list(known)}")
    return [known.index(n) for n in names]


def _check_variations(variations: Any, num_variations: int) -> np.ndarray:
    arr = np.asarray(variations)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"variations: expected a non-empty 1-D list of ids, got {variations!r}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"variations: ids must be integers, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= num_variations:
        raise ValueError(
            f"variations: ids must lie in [0, {num_variations}), got {arr.min()}..{arr.max()}"
        )
    if np.unique(arr).size != arr.size:
        raise ValueError("variations: the ids must be distinct")
    return arr.astype(np.int32)


def env_subsets(variations: np.ndarray, num_envs: int) -> list[np.ndarray]:
    """The variations env ``i`` draws from (module docstring): ``[variations[i % V]]`` when
    ``num_envs >= V``, else ``variations[i::num_envs]``."""
    V = len(variations)
    if num_envs >= V:
        return [variations[i % V : i % V + 1] for i in range(num_envs)]
    return [variations[i::num_envs] for i in range(num_envs)]


class MetaWorldVecEnv:
    """``num_envs`` Meta-World arms of MT-10 or MT-50, stepped on the host with auto-reset.

    Args:
        benchmark: ``"MT10"`` or ``"MT50"``.
        num_envs: parallel arms ``B`` (``None``: one per variation).
        variations: the variation ids to play (``None``: all); see the module docstring.
        goal_variations: a variation is ``task * 50 + goal`` instead of a task id.
        seed: env ``i`` is seeded with ``seed + i`` (its variation and goal draws, Meta-World's
            own randomness).
        benchmark_seed: which 50 goals each task has (``metaworld.MT10(seed=...)``).
        pinned: require every env to play one variation only (``num_envs >= len(variations)``).
        max_episode_steps: the time limit, at most Meta-World's 500.
        reward_function_version: Meta-World's ``"v2"`` (the default, the GSL scripts' reward)
            or ``"v1"``.

    Attributes:
        observation_space: ``Box((39 + num_tasks,), -inf, inf, float32)``.
        action_space: ``Box((4,), -1, 1, float32)``.
        name: ``"metaworld-mt10"`` or ``"metaworld-mt50"``.
        num_tasks, num_variations: tasks in the benchmark; valid variation ids.
        levels: the sorted variation ids the envs play (for the host GSL driver).
        tasks: the task names in task-id order.

    Raises ``ValueError`` naming the argument before anything is built, and ``ImportError``
    with the install command when Meta-World is missing.
    """

    action_space = Box((4,), -1.0, 1.0, np.float32)

    def __init__(
        self,
        benchmark: str = "MT10",
        num_envs: int | None = None,
        variations: Sequence[int] | np.ndarray | None = None,
        goal_variations: bool = False,
        seed: int = 0,
        max_episode_steps: int = MAX_EPISODE_STEPS,
        reward_function_version: str = "v2",
        benchmark_seed: int = 0,
        pinned: bool = False,
    ):
        _check_benchmark(benchmark)
        if not isinstance(pinned, bool):
            raise ValueError(f"pinned: must be a bool, got {pinned!r}")
        if not isinstance(goal_variations, bool):
            raise ValueError(f"goal_variations: must be a bool, got {goal_variations!r}")
        if not isinstance(seed, int | np.integer) or not 0 <= seed < 2**31 - 10_000:
            raise ValueError(f"seed: must be an integer in [0, 2**31 - 10000), got {seed!r}")
        if not isinstance(benchmark_seed, int | np.integer) or not 0 <= benchmark_seed < 2**32:
            raise ValueError(
                f"benchmark_seed: must be an integer in [0, 2**32), got {benchmark_seed!r}"
            )
        if not isinstance(max_episode_steps, int | np.integer) or not (
            0 < max_episode_steps <= MAX_EPISODE_STEPS
        ):
            raise ValueError(
                f"max_episode_steps: must be an integer in [1, {MAX_EPISODE_STEPS}], "
                f"got {max_episode_steps!r}"
            )
        if reward_function_version not in ("v1", "v2"):
            raise ValueError(
                f"reward_function_version: 'v1' or 'v2', got {reward_function_version!r}"
            )
        self.num_tasks = 10 if benchmark == "MT10" else 50
        self.num_variations = self.num_tasks * (NUM_GOALS if goal_variations else 1)
        if variations is None:
            variations = np.arange(self.num_variations, dtype=np.int32)
        self.levels = np.sort(_check_variations(variations, self.num_variations))
        if num_envs is None:
            num_envs = len(self.levels)
        if not isinstance(num_envs, int | np.integer) or num_envs <= 0:
            raise ValueError(f"num_envs: must be a positive integer, got {num_envs!r}")
        if pinned and num_envs < len(self.levels):
            raise ValueError(
                f"num_envs: pinned envs need one env per variation at least, got {num_envs} "
                f"envs for {len(self.levels)} variations"
            )
        self.pinned, self.benchmark_seed = pinned, int(benchmark_seed)
        self._reward_version = reward_function_version
        self.benchmark, self.goal_variations, self.seed = benchmark, goal_variations, int(seed)
        self.num_envs, self.max_episode_steps = int(num_envs), int(max_episode_steps)
        self.observation_space = Box((BASE_OBS_DIM + self.num_tasks,), -np.inf, np.inf, np.float32)
        self._subsets = env_subsets(self.levels, self.num_envs)

        bench = _benchmark(benchmark, self.benchmark_seed)
        self.tasks = tuple(bench.train_classes)
        self._goals = {
            name: [t for t in bench.train_tasks if t.env_name == name] for name in self.tasks
        }
        self._rngs = [np.random.default_rng(self.seed + i) for i in range(self.num_envs)]
        self._envs: list[Any] = []
        for i, subset in enumerate(self._subsets):
            # One MuJoCo instance per env, of its first task's class (rebuilt on a task switch).
            self._envs.append(self._make_env(self._task_of(subset[0]), self.seed + i))
        self._env_task = [self._task_of(s[0]) for s in self._subsets]
        self._variation = np.zeros(self.num_envs, np.int32)
        self._return = np.zeros(self.num_envs, np.float32)
        self._length = np.zeros(self.num_envs, np.int32)
        self._latched = np.zeros(self.num_envs, np.bool_)

    @property
    def name(self) -> str:
        return f"metaworld-{self.benchmark.lower()}"

    def with_levels(
        self,
        levels: Sequence[int] | np.ndarray | None,
        num_envs: int,
        seed: int,
        pinned: bool = False,
    ) -> MetaWorldVecEnv:
        """A new batch of the same benchmark, goals, reward and time limit on ``levels``
        (``None``: all), with ``num_envs`` envs seeded from ``seed`` (the host GSL backend's
        constructor of specialist, evaluation and demo envs, :mod:`gsl_jax.host`)."""
        return MetaWorldVecEnv(
            self.benchmark,
            num_envs=num_envs,
            variations=levels,
            goal_variations=self.goal_variations,
            seed=seed,
            max_episode_steps=self.max_episode_steps,
            reward_function_version=self._reward_version,
            benchmark_seed=self.benchmark_seed,
            pinned=pinned,
        )

    # -- building and resetting -----------------------------------------------------------
    def _task_of(self, variation: int) -> int:
        return int(variation) // NUM_GOALS if self.goal_variations else int(variation)

    def _make_env(self, task: int, seed: int) -> Any:
        cls = _benchmark(self.benchmark, self.benchmark_seed).train_classes[self.tasks[task]]
        env = cls(reward_function_version=self._reward_version)
        env.seed(seed)
        env.max_path_length = self.max_episode_steps
        return env

    def _one_hot(self, obs: np.ndarray, task: int) -> np.ndarray:
        out = np.zeros(self.observation_space.shape, np.float32)
        out[:BASE_OBS_DIM] = obs
        out[BASE_OBS_DIM + task] = 1.0
        return out

    def _reset_env(
        self, i: int, variation: int | None = None, goal: int | None = None
    ) -> np.ndarray:
        """Reset env ``i`` to ``variation`` (default: drawn from its subset) and ``goal``
        (default: the variation's own, or drawn); returns its first observation ``[D]``."""
        rng = self._rngs[i]
        if variation is None:
            subset = self._subsets[i]
            variation = int(subset[rng.integers(len(subset))])
        task = self._task_of(variation)
        if goal is None:
            goal = variation % NUM_GOALS if self.goal_variations else int(rng.integers(NUM_GOALS))
        if task != self._env_task[i]:
            self._envs[i].close()
            self._envs[i] = self._make_env(task, self.seed + i)
            self._env_task[i] = task
        env = self._envs[i]
        env.set_task(self._goals[self.tasks[task]][goal])
        obs, _ = env.reset()
        self._variation[i] = variation
        self._return[i], self._length[i], self._latched[i] = 0.0, 0, False
        return self._one_hot(obs, task)

    def reset(self) -> np.ndarray:
        """Start a new episode in every env. Returns float32 ``[B, 39 + num_tasks]``."""
        return np.stack([self._reset_env(i) for i in range(self.num_envs)])

    # -- stepping -------------------------------------------------------------------------
    def step(
        self, action: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Step every env with ``action`` (float ``[B, 4]``, clipped to ``[-1, 1]``).

        Returns ``(obs, reward, done, info)``: obs float32 ``[B, 39 + num_tasks]`` (for a
        finished episode the first observation of the next one), reward float32 ``[B]``
        (Meta-World's, 0..10), done bool ``[B]`` (truncated at ``max_episode_steps``), and info
        entries ``[B]``: ``success`` (bool, the flag latched over the episode: at ``done`` the
        benchmark's outcome), ``step_success`` (bool, Meta-World's flag of this step),
        ``truncated`` (bool, = ``done``), ``variation`` (int32, the episode's), and
        ``episode_return`` / ``episode_length`` (the episode's so far, finished ones at ``done``).
        """
        action = np.asarray(action, np.float32)
        if action.shape != (self.num_envs, 4):
            raise ValueError(f"action: expected shape ({self.num_envs}, 4), got {action.shape}")
        action = np.clip(action, -1.0, 1.0)
        B = self.num_envs
        obs = np.empty((B,) + self.observation_space.shape, np.float32)
        reward = np.empty(B, np.float32)
        step_success = np.empty(B, np.bool_)
        for i, env in enumerate(self._envs):
            o, r, _, _, info = env.step(action[i])
            obs[i] = self._one_hot(o, self._env_task[i])
            reward[i], step_success[i] = r, bool(info["success"])
        self._return += reward
        self._length += 1
        self._latched |= step_success
        done = self._length >= self.max_episode_steps
        info = {
            "success": self._latched.copy(),
            "step_success": step_success,
            "truncated": done.copy(),
            "variation": self._variation.copy(),
            "episode_return": self._return.copy(),
            "episode_length": self._length.copy(),
        }
        for i in np.flatnonzero(done):
            obs[i] = self._reset_env(int(i))
        return obs, reward, done, info

    def close(self) -> None:
        for env in self._envs:
            env.close()
        self._envs = []

    def __repr__(self) -> str:
        kind = "goal" if self.goal_variations else "task"
        return (
            f"MetaWorldVecEnv({self.benchmark}, num_envs={self.num_envs}, "
            f"{len(self.levels)} {kind} variations)"
        )


def evaluate_success(
    env: MetaWorldVecEnv,
    act: Callable[[np.ndarray], np.ndarray],
    goals: Sequence[int] | None = None,
    tasks: Sequence[int] | None = None,
) -> np.ndarray:
    """The benchmark's evaluation protocol on ``env``'s arms.

    For each goal index ``g`` in ``goals`` (default: all 50), every task of ``tasks`` (default:
    those of ``env.levels``) plays one full episode on goal ``g``, one task per env, with
    ``act(obs [N, D]) -> action [N, 4]`` (meant to be the deterministic action, e.g. the
    Gaussian's mean). An episode succeeds if Meta-World's flag is set at any step.

    Returns float32 ``[len(tasks), len(goals)]`` of 0/1; the benchmark's per-task success rate is
    its mean over axis 1, the overall rate the mean of those. Leaves ``env`` needing a
    :meth:`~MetaWorldVecEnv.reset` (its running episodes are replaced).
    """
    goals = list(range(NUM_GOALS)) if goals is None else [int(g) for g in goals]
    if not goals or min(goals) < 0 or max(goals) >= NUM_GOALS:
        raise ValueError(
            f"goals: a non-empty list of goal indices in [0, {NUM_GOALS}), got {goals}"
        )
    if tasks is None:
        tasks = sorted({env._task_of(v) for v in env.levels})
    tasks = [int(t) for t in tasks]
    if not tasks or min(tasks) < 0 or max(tasks) >= env.num_tasks:
        raise ValueError(f"tasks: task ids in [0, {env.num_tasks}), got {tasks}")
    if len(tasks) > env.num_envs:
        raise ValueError(
            f"tasks: {len(tasks)} tasks need at least as many envs, env has {env.num_envs}"
        )
    n = len(tasks)
    result = np.zeros((n, len(goals)), np.float32)
    for j, g in enumerate(goals):
        variations = [t * NUM_GOALS + g if env.goal_variations else t for t in tasks]
        obs = np.stack([env._reset_env(i, v, g) for i, v in enumerate(variations)])
        solved = np.zeros(n, np.bool_)
        for _ in range(env.max_episode_steps):
            action = np.asarray(act(obs), np.float32)
            for i in range(n):
                o, _, _, _, info = env._envs[i].step(np.clip(action[i], -1.0, 1.0))
                obs[i] = env._one_hot(o, tasks[i])
                solved[i] |= bool(info["success"])
        result[:, j] = solved
    return result


__all__ = [
    "BENCHMARKS",
    "INSTALL_HINT",
    "MAX_EPISODE_STEPS",
    "MT10_TASKS",
    "NUM_GOALS",
    "MetaWorldVecEnv",
    "env_subsets",
    "evaluate_success",
    "metaworld_unavailable_reason",
    "task_ids",
    "task_names",
]
