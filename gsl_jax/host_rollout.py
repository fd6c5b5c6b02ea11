"""PPO with host rollouts: environments stepped by Python on the host, policy and learner on device.

Some environments exist only on the host: the real Procgen games (OpenAI's C++ through EnvPool,
:class:`gsl_jax.envs.envpool.EnvPoolProcgen`), later Meta-World. For them an update is a Python
loop over ``num_steps``: one jitted policy call on device (sample the action, its log-prob and the
value), one batched env step on the host. The loop fills the same :class:`~gsl_jax.ppo.Transition`
trajectory the fused rollout of :func:`gsl_jax.ppo.make_update` builds, and the update ends with
the jitted learning step of :func:`gsl_jax.ppo.make_learn` (GAE, epochs of minibatch SGD, optional
DAPG): one learning code path for both kinds of environment.

:class:`HostPPO` runs updates of a population of ``P`` learners (``P = 1``: a generalist), each
with its own host env; :func:`train_ppo_host` and :func:`train_ppo_envpool` are the one-call
entry points, returning the same :class:`~gsl_jax.training.TrainResult` as
:func:`gsl_jax.training.train_ppo`, with the same logging. GSL on host envs drives
:class:`HostPPO` through :class:`gsl_jax.host.HostRunBuilder`.

Randomness follows :func:`gsl_jax.ppo.make_update` key for key: ``rng, k_roll, k_perm =
split(state.rng, 3)``; the action noise of the whole rollout is drawn from the first half of
``split(k_roll)`` in one call, the minibatch shuffles from ``k_perm``. The environment's own
randomness (EnvPool's seeds) is the env's. Reward normalisation (if on) runs inside the jitted
learning call over the collected rewards: the same per-step recursion as in the fused rollout,
moved after it because the policy never reads it.

The host env interface (:class:`HostVecEnv`): ``num_envs``, ``observation_space``,
``action_space``, ``reset() -> obs [B, ...]`` and ``step(action [B]) -> (obs, reward [B], done
[B], info)`` with auto-reset (the ``obs`` returned with ``done`` is the next episode's first) and
``info`` holding at least ``success``, ``truncated`` and ``variation`` (``[B]`` each, as in
:mod:`gsl_jax.envs.core`). Optional: ``send(action)`` / ``recv()`` (then the ``P`` envs step
concurrently) and ``levels`` (the env's variation ids, ``None`` for an unbounded set).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from gsl_jax.demos import DemoBuffer
from gsl_jax.distributions import action_noise, distribution_for, sample_with_noise
from gsl_jax.envs.core import Box, EpisodeStats, Space, VariationSet, VecEnvState
from gsl_jax.networks import ActorCritic, NetworkConfig, make_network
from gsl_jax.normalization import RewardNormState, normalize_reward
from gsl_jax.population import vmap_population
from gsl_jax.ppo import (
    DAPGConfig,
    LearnerState,
    PPOConfig,
    Transition,
    make_learn,
    make_optimizer,
)
from gsl_jax.training import PPORunConfig, TrainResult

Metrics = dict[str, jax.Array]


class HostVecEnv(Protocol):
    """A batch of ``num_envs`` auto-resetting environments stepped on the host (module
    docstring); :class:`~gsl_jax.envs.envpool.EnvPoolProcgen` is one."""

    num_envs: int
    observation_space: Box
    action_space: Space

    def reset(self) -> np.ndarray: ...

    def step(
        self, action: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]: ...


def _episode_stats_to_host(stats: EpisodeStats) -> dict[str, np.ndarray]:
    """Writable numpy copies of the fields of ``stats`` (leaves ``[P, B]``)."""
    return {f.name: np.array(getattr(stats, f.name)) for f in dataclasses.fields(stats)}


def _update_stats(
    s: dict[str, np.ndarray], reward: np.ndarray, done: np.ndarray, info: dict[str, np.ndarray]
) -> None:
    """:meth:`EpisodeStats.update` in numpy, in place, on ``[P, B]`` arrays."""
    ret = s["episode_return"] + reward
    length = s["episode_length"] + 1
    s["last_return"] = np.where(done, ret, s["last_return"])
    s["last_length"] = np.where(done, length, s["last_length"])
    s["last_success"] = np.where(done, info["success"], s["last_success"])
    s["last_variation"] = np.where(done, info["variation"], s["last_variation"]).astype(np.int32)
    s["finished"] = s["finished"] + done.astype(np.int32)
    s["episode_return"] = np.where(done, np.float32(0.0), ret).astype(np.float32)
    s["episode_length"] = np.where(done, 0, length).astype(np.int32)


def _host_variation_sets(envs: Sequence[HostVecEnv]) -> VariationSet:
    """Stacked ``[P, C]`` sets of the envs' ``levels``; ``count = 0`` marks an env without a
    finite set (e.g. Procgen's full distribution)."""
    lists = [getattr(env, "levels", None) for env in envs]
    capacity = max([1] + [len(x) for x in lists if x is not None])
    ids = np.zeros((len(envs), capacity), np.int32)
    count = np.zeros(len(envs), np.int32)
    for p, levels in enumerate(lists):
        if levels is not None:
            ids[p, : len(levels)] = np.asarray(levels)
            count[p] = len(levels)
    return VariationSet(ids=jnp.asarray(ids), count=jnp.asarray(count))


@functools.lru_cache(maxsize=16)
def _init_fn(network: ActorCritic):
    return jax.jit(network.init)


@functools.lru_cache(maxsize=16)
def opt_init_fn(config: PPOConfig):
    """The jitted ``init(params) -> opt_state`` of :func:`gsl_jax.ppo.make_optimizer`."""
    return jax.jit(make_optimizer(config).init)


@functools.lru_cache(maxsize=16)
def _programs(network: ActorCritic, config: PPOConfig, dapg: DAPGConfig | None) -> tuple:
    """The jitted ``begin``, ``act`` and ``finish`` of :class:`HostPPO`, cached per
    ``(network, config, dapg)``: every driver of a run (generalist, specialists, a resumed run's)
    shares one compiled program of each kind and shape."""
    learn = make_learn(network, config, dapg)
    T, B = config.num_steps, config.num_envs

    def begin(state: LearnerState):
        rng, k_roll, k_perm = jax.random.split(state.rng, 3)
        k_act, _ = jax.random.split(k_roll)  # the second key drives envs in the fused rollout
        return action_noise(k_act, network.action_space, (T, B)), rng, k_perm

    def act(params, obs, noise, t):
        dist, value = network.apply(params, obs)
        action = sample_with_noise(dist, noise[t])
        return action, distribution_for(dist).log_prob(dist, action), value

    def finish(state, traj, last_obs, k_perm, rng, demos):
        norm = state.reward_norm
        if config.normalize_rewards:

            def body(norm, rd):
                scaled, norm = normalize_reward(norm, *rd, config.gamma, config.reward_clip)
                return norm, scaled

            norm, scaled = jax.lax.scan(body, norm, (traj.reward, traj.done))
            traj = traj._replace(reward=scaled)
        _, last_value = network.apply(state.params, last_obs)
        state, metrics = learn(state, traj, last_value, k_perm, demos)
        return state.replace(reward_norm=norm, rng=rng), metrics

    # A single host env (a generalist) runs these unbatched, as make_chunk does.
    return (
        jax.jit(vmap_population(begin, in_axes=(0,))),
        jax.jit(vmap_population(act, in_axes=(0, 0, 0, None))),
        jax.jit(vmap_population(finish, in_axes=(0, 0, 0, 0, 0, None))),
    )


class HostPPO:
    """PPO updates of ``P`` learners whose envs are stepped on the host (module docstring).

    Args:
        envs: one :class:`HostVecEnv` per population member, each with ``config.num_envs`` envs
            and the same observation and action spaces.
        network: the actor-critic (built for the envs' spaces).
        config: PPO hyperparameters.
        dapg: add the DAPG demonstration term (then pass ``demos`` to :meth:`update`).

    The learner state is a :class:`~gsl_jax.ppo.LearnerState` with leaves ``[P, ...]``; its
    ``env`` holds the current observations ``[P, B, ...]`` and episode statistics (``env_state``
    is ``None``: the game state lives in the host envs), so consecutive updates must be given the
    state the previous one returned. ``variations`` holds the envs' ``levels``
    (``count = 0`` where an env has no finite set).
    """

    def __init__(
        self,
        envs: Sequence[HostVecEnv],
        network: ActorCritic,
        config: PPOConfig,
        dapg: DAPGConfig | None = None,
    ):
        envs = list(envs)
        if not envs:
            raise ValueError("envs: at least one host env is needed")
        for p, env in enumerate(envs):
            if env.num_envs != config.num_envs:
                raise ValueError(
                    f"ppo.num_envs: config says {config.num_envs} but envs[{p}] has "
                    f"{env.num_envs} envs"
                )
            if (env.observation_space, env.action_space) != (
                envs[0].observation_space,
                envs[0].action_space,
            ):
                raise ValueError(f"envs[{p}]: its spaces differ from those of envs[0]")
        self.envs, self.network, self.config, self.dapg = envs, network, config, dapg
        self._concurrent = all(hasattr(e, "send") and hasattr(e, "recv") for e in envs)
        self._begin, self._act, self._finish = _programs(network, config, dapg)

    @property
    def population_size(self) -> int:
        return len(self.envs)

    def init(self, key: jax.Array) -> LearnerState:
        """Reset the envs and initialise ``P`` learners; member ``p`` uses ``split(key, P)[p]``
        the way :func:`gsl_jax.ppo.init_learner` does (network, then optimiser)."""
        obs = np.stack([np.asarray(env.reset()) for env in self.envs])
        init_params = _init_fn(self.network)
        members = []
        for p, k in enumerate(jax.random.split(key, self.population_size)):
            k_net, _, k_rng = jax.random.split(k, 3)
            params = init_params(k_net, jnp.asarray(obs[p, :1]))
            members.append((params, opt_init_fn(self.config)(params), k_rng))
        params, opt_state, rng = jax.tree.map(lambda *xs: jnp.stack(xs), *members)
        P, B = self.population_size, self.config.num_envs
        stats = jax.tree.map(lambda x: jnp.broadcast_to(x, (P,) + x.shape), EpisodeStats.zeros(B))
        norm = RewardNormState.create(B)
        return LearnerState(
            params=params,
            opt_state=opt_state,
            env=VecEnvState(env_state=None, obs=jnp.asarray(obs), stats=stats),
            variations=_host_variation_sets(self.envs),
            reward_norm=jax.tree.map(lambda x: jnp.broadcast_to(x, (P,) + x.shape), norm),
            rng=rng,
            updates=jnp.zeros(P, jnp.int32),
        )

    def _step_envs(self, action: np.ndarray) -> list[tuple]:
        if self._concurrent:
            for env, a in zip(self.envs, action, strict=True):
                env.send(a)
            return [env.recv() for env in self.envs]
        return [env.step(a) for env, a in zip(self.envs, action, strict=True)]

    def collect(self, state: LearnerState, noise: jax.Array) -> tuple[Transition, np.ndarray, dict]:
        """Step the host envs ``num_steps`` times under the policy of ``state``.

        Returns ``(traj, last_obs, stats)``: a :class:`~gsl_jax.ppo.Transition` of numpy arrays
        ``[P, T, B, ...]`` with the raw rewards, the observations ``[P, B, ...]`` after the last
        step, and the episode statistics (numpy ``[P, B]`` fields of :class:`EpisodeStats`).
        """
        T = self.config.num_steps
        obs = np.asarray(state.env.obs)
        stats = _episode_stats_to_host(state.env.stats)
        P, B = obs.shape[:2]

        def buffer(dtype, tail=()):
            return np.empty((P, T, B) + tuple(tail), dtype)

        traj = {
            "obs": buffer(obs.dtype, obs.shape[2:]),
            "reward": buffer(np.float32),
            "done": buffer(np.bool_),
            "episode_return": buffer(np.float32),
            "episode_length": buffer(np.int32),
            "success": buffer(np.bool_),
        }
        sampled: list[tuple[jax.Array, ...]] = []
        for t in range(T):
            action, log_prob, value = self._act(state.params, obs, noise, t)
            sampled.append((action, log_prob, value))
            traj["obs"][:, t] = obs
            results = self._step_envs(np.asarray(action))
            obs = np.stack([np.asarray(r[0]) for r in results])
            reward = np.stack([np.asarray(r[1], np.float32) for r in results])
            done = np.stack([np.asarray(r[2], np.bool_) for r in results])
            info = {
                k: np.stack([np.asarray(r[3][k]) for r in results])
                for k in ("success", "truncated", "variation")
            }
            _update_stats(stats, reward, done, info)
            traj["reward"][:, t] = reward
            traj["done"][:, t] = done
            traj["episode_return"][:, t] = stats["last_return"]
            traj["episode_length"][:, t] = stats["last_length"]
            traj["success"][:, t] = info["success"]
        action, log_prob, value = (np.stack(xs, axis=1) for xs in zip(*sampled, strict=True))
        transition = Transition(action=action, log_prob=log_prob, value=value, **traj)
        return transition, obs, stats

    def update(
        self, state: LearnerState, demos: DemoBuffer | None = None
    ) -> tuple[LearnerState, Metrics]:
        """One PPO update of every member: a host rollout, then the jitted learning step.
        Returns ``(state, metrics)`` with metric leaves ``[P]`` (:func:`gsl_jax.ppo.make_update`
        documents the metrics)."""
        if (demos is None) != (self.dapg is None):
            raise ValueError("demos: pass a DemoBuffer exactly when the update has a DAPGConfig")
        noise, rng, k_perm = self._begin(state)
        traj, last_obs, stats = self.collect(state, noise)
        state, metrics = self._finish(state, traj, last_obs, k_perm, rng, demos)
        env = VecEnvState(
            env_state=None,
            obs=jnp.asarray(last_obs),
            stats=EpisodeStats(**{k: jnp.asarray(v) for k, v in stats.items()}),
        )
        return state.replace(env=env), metrics

    def run(
        self, state: LearnerState, num_updates: int, demos: DemoBuffer | None = None
    ) -> tuple[LearnerState, Metrics]:
        """``num_updates`` updates; metric leaves ``[num_updates, P]`` (a chunk, as
        :func:`gsl_jax.population.make_chunk` returns)."""
        collected = []
        for _ in range(num_updates):
            state, metrics = self.update(state, demos)
            collected.append(metrics)
        return state, jax.tree.map(lambda *xs: jnp.stack(xs), *collected)


def train_ppo_host(
    envs: HostVecEnv | Sequence[HostVecEnv],
    ppo: PPOConfig = PPOConfig(),
    network: NetworkConfig = NetworkConfig(kind="impala"),
    total_steps: int = 1_000_000,
    seed: int = 0,
    updates_per_chunk: int = 10,
    run_dir: str | Path | None = None,
    progress: bool = True,
    tensorboard: bool = True,
    dapg: DAPGConfig | None = None,
    demos: DemoBuffer | None = None,
    resume: bool = False,
    checkpoint_every: int = 10,
    env_spec: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train PPO on host envs for ``total_steps`` env-steps per population member.

    Args:
        envs: one :class:`HostVecEnv` (a generalist) or one per population member.
        ppo: PPO hyperparameters; ``ppo.num_envs`` must equal each env's ``num_envs``.
        network: which actor-critic to build.
        total_steps: env-steps per member: ``total_steps // ppo.batch_size`` updates.
        seed: PRNG seed of the learners (the envs carry their own seeds).
        updates_per_chunk: updates between two log records.
        run_dir: a PPO run directory with checkpoints every ``checkpoint_every`` chunks
            (:mod:`gsl_jax.host.ppo_run`); ``None``: everything in memory.
        progress: draw a progress bar.
        tensorboard: write TensorBoard events when ``run_dir`` is set.
        dapg, demos: add the DAPG term on ``demos`` (both or neither).
        resume: continue the run in ``run_dir`` from its newest complete checkpoint (same
            settings and ``env_spec``). ``envs`` must be built with the interrupted run's
            seeds: they are reset (:func:`gsl_jax.host.ppo_run.reattach`).
        env_spec: how to rebuild the envs (saved with the run; a resume on another is refused).
        log, on_record: receive the resume lines and each chunk's record.

    Returns a :class:`~gsl_jax.training.TrainResult` like :func:`gsl_jax.training.train_ppo`'s,
    with ``vec_env`` set to ``envs`` as given.
    """
    from gsl_jax.host.ppo_run import run_host_ppo

    if total_steps <= 0:
        raise ValueError(f"total_steps: must be positive, got {total_steps}")
    if updates_per_chunk <= 0:
        raise ValueError(f"updates_per_chunk: must be positive, got {updates_per_chunk}")
    if (demos is None) != (dapg is None):
        raise ValueError("demos: pass a DemoBuffer exactly when dapg is set")
    config = PPORunConfig(ppo, network, total_steps, None, updates_per_chunk, seed)
    env_list = [envs] if hasattr(envs, "num_envs") else list(envs)
    if not env_list:
        raise ValueError("envs: at least one host env is needed")
    first = env_list[0]
    net = make_network(network, first.action_space, first.observation_space.shape)
    driver = HostPPO(env_list, net, config.resolved_ppo(), dapg)
    result = run_host_ppo(
        driver,
        lambda: driver.init(jax.random.key(seed)),
        config,
        getattr(first, "name", type(first).__name__),
        run_dir=run_dir,
        resume=resume,
        checkpoint_every=checkpoint_every,
        progress=progress,
        tensorboard=tensorboard,
        log=log,
        on_record=on_record,
        env_spec=env_spec,
        label="generalist" if len(env_list) == 1 else "population",
        demos=demos,
    )
    result.vec_env = envs
    return result


def train_ppo_envpool(
    game: str,
    distribution_mode: str = "easy",
    ppo: PPOConfig = PPOConfig(),
    network: NetworkConfig = NetworkConfig(kind="impala"),
    total_steps: int = 1_000_000,
    levels: Sequence[int] | None = None,
    variation_sets: Sequence[Sequence[int]] | None = None,
    seed: int = 0,
    updates_per_chunk: int = 10,
    num_threads: int = 0,
    **kwargs: Any,
) -> TrainResult:
    """Train PPO on the real Procgen ``game`` (EnvPool, :class:`EnvPoolProcgen`).

    A generalist plays ``levels`` (``None``: the full distribution; the Procgen protocol trains
    on ``range(200)`` in easy mode); a population plays ``variation_sets``, one level list per
    member (specialists), each member with its own ``ppo.num_envs`` games. Member ``p``'s game
    ``i`` gets EnvPool seed ``(seed * P + p) * num_envs + i``. Other keyword arguments go to
    :func:`train_ppo_host` (``run_dir``, ``progress``, ``tensorboard``, ``dapg``, ``demos``).

    Needs ``pip install "gsl-jax[procgen]"`` and, on Linux, ``apt-get install -y libqt5gui5``.
    """
    from gsl_jax.envs.envpool import EnvPoolProcgen

    if levels is not None and variation_sets is not None:
        raise ValueError("variation_sets: give either levels (a generalist) or variation_sets")
    if variation_sets is not None and len(variation_sets) == 0:
        raise ValueError("variation_sets: no level sets given")
    sets = [levels] if variation_sets is None else list(variation_sets)
    if total_steps <= 0:  # checked here too, so that no env is built for a bad call
        raise ValueError(f"total_steps: must be positive, got {total_steps}")
    B = ppo.num_envs
    envs = [
        EnvPoolProcgen(
            game,
            distribution_mode,
            num_envs=B,
            levels=member_levels,
            seed=(seed * len(sets) + p) * B,
            num_threads=num_threads,
        )
        for p, member_levels in enumerate(sets)
    ]
    return train_ppo_host(
        envs if variation_sets is not None else envs[0],
        ppo,
        network,
        total_steps,
        seed=seed,
        updates_per_chunk=updates_per_chunk,
        **kwargs,
    )
