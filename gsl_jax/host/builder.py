""":class:`HostRunBuilder`: the run builder of GSL over a host vector env (:mod:`gsl_jax.host`
states the interface and how each phase runs)."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from gsl_jax.envs.core import EpisodeStats, VariationSet, VecEnvState
from gsl_jax.evaluation import VariationScores
from gsl_jax.host.rollouts import evaluate_host, policy_rollout
from gsl_jax.host_rollout import HostPPO, opt_init_fn
from gsl_jax.networks import make_network
from gsl_jax.phases import Arrays, GSLProgress, RunBuilder
from gsl_jax.ppo import LearnerState

if TYPE_CHECKING:
    from gsl_jax.gsl import GSLConfig

#: What a host env needs for GSL (the module docstring of :mod:`gsl_jax.host`).
HOST_ENV_ATTRIBUTES = (
    "num_envs",
    "observation_space",
    "action_space",
    "reset",
    "step",
    "name",
    "num_variations",
    "max_episode_steps",
    "with_levels",
)

LevelSets = tuple[tuple[int, ...], ...]


def check_host_env(env: Any) -> None:
    """``ValueError`` naming what ``env`` lacks when it is no host env GSL can drive."""
    missing = [a for a in HOST_ENV_ATTRIBUTES if not hasattr(env, a)]
    if missing:
        raise ValueError(
            f"env: {type(env).__name__} is neither a JAX Environment nor a host vector env "
            f"GSL can drive (missing {', '.join(missing)}; see gsl_jax.host)"
        )


def env_seed(seed: int, levels: Any, salt: str = "train") -> int:
    """The seed of the host env batch playing ``levels`` in a run of ``seed``: a function of
    ``(seed, levels, salt)`` only, so a resumed run rebuilds its envs with the same seeds. In
    ``[0, 2**30)`` (EnvPool's seeds must stay below ``2**31 - 1 - num_envs``)."""
    digest = zlib.crc32(np.asarray(levels, np.int64).tobytes() + salt.encode())
    return int(np.random.SeedSequence([int(seed), digest]).generate_state(1)[0]) % 2**30


def consecutive_runs(ids: Any) -> int:
    """Runs of consecutive ids in the sorted ``ids``: the fewest envs a batch needs when, as in
    EnvPool, one env cannot mix two runs (:func:`gsl_jax.envs.envpool.level_runs`)."""
    arr = np.unique(np.asarray(ids, np.int64))
    return int(1 + np.sum(np.diff(arr) != 1)) if arr.size else 0


def _level_sets(state: LearnerState) -> LevelSets:
    """The variation ids of each member of ``state`` (leaves ``[P, ...]``)."""
    ids, count = np.asarray(state.variations.ids), np.asarray(state.variations.count)
    return tuple(tuple(int(v) for v in ids[p, : count[p]]) for p in range(ids.shape[0]))


def _stacked_sets(sets: LevelSets) -> VariationSet:
    capacity = max(len(s) for s in sets)
    ids = np.zeros((len(sets), capacity), np.int32)
    for p, s in enumerate(sets):
        ids[p, : len(s)] = s
    return VariationSet(ids=jnp.asarray(ids), count=jnp.asarray([len(s) for s in sets], jnp.int32))


class HostRunBuilder(RunBuilder):
    """The GSL run builder over a host vector env (:mod:`gsl_jax.host`).

    ``env`` is a template: every batch the run steps is built from it by ``env.with_levels``
    with ``config.ppo.num_envs`` envs and a seed from :func:`env_seed`; ``env`` itself is never
    stepped. Raises ``ValueError`` (before any env is built) when ``config.ppo.num_envs`` is too
    small to give every level of a specialist's subset (or of E_low for pi_g_low) its own env.
    """

    def __init__(self, env: Any, config: GSLConfig):
        check_host_env(env)
        if config.learner != "ppo":
            raise ValueError(
                f"gsl.learner: {config.learner!r} runs on JAX envs only; a host env "
                f"({getattr(env, 'name', type(env).__name__)}) trains with 'ppo'"
            )
        if config.specialist_num_envs not in (None, config.ppo.num_envs):
            raise ValueError(
                f"gsl.specialist_num_envs: on a host env the specialists use ppo.num_envs = "
                f"{config.ppo.num_envs} envs each; got {config.specialist_num_envs}"
            )
        self.env, self.config = env, config
        self.net = make_network(config.network, env.action_space, env.observation_space.shape)
        root = jax.random.key(config.seed)
        self.k_init, self.k_spec, self.k_demo, self.k_low = jax.random.split(root, 4)
        self.k_select = jax.random.fold_in(root, 1)  # selection's tie-breaks
        self.train_ids = np.arange(config.train_variations(env))
        self.steps_per_chunk = config.updates_per_chunk * config.ppo.batch_size
        self.spec_steps_per_chunk = self.steps_per_chunk  # specialists: ppo.num_envs envs too
        B, per = config.ppo.num_envs, -(-config.num_low // config.num_specialists)
        needed = max(per, config.num_low if config.low_finetune_steps > 0 else 0)
        if B < needed:
            raise ValueError(
                f"gsl.ppo.num_envs: {B} envs per learner cannot pin every level of a subset of "
                f"E_low ({needed} levels) to an env of its own on a host env; use >= {needed}"
            )
        self._envs: dict[LevelSets, list[Any]] = {}
        self._drivers: dict[tuple[LevelSets, bool], HostPPO] = {}

    # -- env batches and their HostPPO drivers ------------------------------------------------

    def _build_envs(self, sets: LevelSets) -> list[Any]:
        """(Re)build the env batches of ``sets``, one per member, dropping older ones."""
        for env in self._envs.pop(sets, []):
            getattr(env, "close", lambda: None)()
        for dapg in (False, True):
            self._drivers.pop((sets, dapg), None)
        B, seed = self.config.ppo.num_envs, self.config.seed
        self._envs[sets] = [self.env.with_levels(s, B, env_seed(seed, s)) for s in sets]
        return self._envs[sets]

    def _driver(self, sets: LevelSets, dapg: bool) -> HostPPO:
        if sets not in self._envs:
            self._build_envs(sets)
        if (sets, dapg) not in self._drivers:
            config = self.config.dapg if dapg else None
            self._drivers[(sets, dapg)] = HostPPO(
                self._envs[sets], self.net, self.config.ppo, config
            )
        return self._drivers[(sets, dapg)]

    def attach(self, state: LearnerState) -> LearnerState:
        """``state`` with the first observations of its (reset) env batches, zero running
        episode statistics and discounted returns: what a restored learner continues from
        (:meth:`restore` applies it; so does a PPO checkpoint's reader, e.g. the Procgen
        experiment's baseline)."""
        sets = _level_sets(state)
        envs = self._envs.get(sets) or self._build_envs(sets)
        obs = np.stack([np.asarray(env.reset()) for env in envs])
        P, B = obs.shape[:2]
        stats = jax.tree.map(lambda x: jnp.broadcast_to(x, (P, *x.shape)), EpisodeStats.zeros(B))
        norm = state.reward_norm.replace(returns=jnp.zeros_like(state.reward_norm.returns))
        return state.replace(env=VecEnvState(None, jnp.asarray(obs), stats), reward_norm=norm)

    def driver_of(self, state: LearnerState, dapg: bool = False) -> HostPPO:
        """The :class:`~gsl_jax.host_rollout.HostPPO` that trains the members of ``state``."""
        return self._driver(_level_sets(state), dapg)

    def envs_of(self, state: LearnerState) -> list[Any]:
        """The env batches the members of ``state`` step (one per member)."""
        return self._envs[_level_sets(state)]

    # -- the builder interface ----------------------------------------------------------------

    def fresh_generalist(self) -> LearnerState:
        sets = (tuple(int(v) for v in self.train_ids),)
        self._build_envs(sets)
        state = self._driver(sets, False).init(self.k_init)
        return state.replace(variations=_stacked_sets(sets))

    def workers_from(
        self, source: LearnerState, sets: list, key: jax.Array, specialists: bool = False
    ) -> LearnerState:
        """``len(sets)`` clones of ``source`` (no population axis) on fresh env batches, as
        :func:`gsl_jax.population.clone_learner` clones on a JAX env: member ``p`` gets PRNG key
        ``split(split(key, P)[p])[1]``, the source's optimiser state (or a fresh one) and
        reward statistics with zero running returns."""
        level_sets = tuple(tuple(int(v) for v in np.asarray(s)) for s in sets)
        P = len(level_sets)
        self._build_envs(level_sets)
        opt_state = source.opt_state
        if self.config.fresh_specialist_optimizer:
            opt_state = opt_init_fn(self.config.ppo)(source.params)
        rng = jnp.stack([jax.random.split(k)[1] for k in jax.random.split(key, P)])
        shared = source.replace(opt_state=opt_state, env=None, variations=None)
        stacked = jax.tree.map(lambda x: jnp.broadcast_to(x, (P, *x.shape)), shared)
        state = stacked.replace(variations=_stacked_sets(level_sets), rng=rng)
        return self.attach(state)

    def chunk(self, dapg: bool = False, specialists: bool = False):
        """``chunk(state [P], demos=None) -> (state, metrics [K, P])``: ``updates_per_chunk``
        host-rollout PPO updates (:class:`~gsl_jax.host_rollout.HostPPO`) of the members on
        their level sets' env batches. ``nonfinite_params`` (the divergence guard's input) is
        counted once, after the chunk, on its last row."""
        updates = self.config.updates_per_chunk

        def run(state: LearnerState, demos: Any = None):
            sets = _level_sets(state)
            if sets not in self._envs:  # a state restored outside restore(): fresh envs
                state = self.attach(state)
            state, metrics = self._driver(sets, dapg).run(state, updates, demos)
            leaves = jax.device_get(jax.tree.leaves(state.params))  # one transfer, numpy
            bad = [sum(int(np.sum(~np.isfinite(x[p]))) for x in leaves) for p in range(len(sets))]
            nonfinite = np.zeros((updates, len(sets)), np.int32)
            nonfinite[-1] = bad
            return state, {**metrics, "nonfinite_params": jnp.asarray(nonfinite)}

        return run

    def evaluate(self, params: Any, ids: np.ndarray, episodes: int, seed: int) -> VariationScores:
        return evaluate_host(self.env, self.net, params, ids, episodes, seed)

    def demo_rollouts(
        self,
        params: Any,
        id_sets: list[np.ndarray],
        keys: jax.Array,
        num_steps: int,
        specialists: bool = False,
    ) -> list[tuple[dict[str, np.ndarray], int]]:
        """As :meth:`RunBuilder.demo_rollouts`, one host rollout per policy, each on a fresh
        env batch over its ids (at least one env per run of consecutive levels)."""
        out = []
        for p, ids in enumerate(id_sets):
            ids = np.asarray(ids)
            num_envs = max(self.config.ppo.num_envs, consecutive_runs(ids))
            env = self.env.with_levels(ids, num_envs, env_seed(self.config.seed, ids, "demos"))
            member = jax.tree.map(lambda x, p=p: x[p], params)
            try:
                traj = policy_rollout(env, self.net, member, keys[p], num_steps)
            finally:
                getattr(env, "close", lambda: None)()
            out.append((traj, num_steps * num_envs))
        return out

    def restore(self, path: Path, generalist_like: LearnerState) -> tuple[GSLProgress, Arrays]:
        """The checkpoint's learners, each re-attached to its freshly reset env batches (the
        game states are not in the checkpoint; :mod:`gsl_jax.host`)."""
        prog, arrays = super().restore(path, generalist_like)
        for name in ("generalist", "worker"):
            if name in arrays:
                arrays[name] = self.attach(arrays[name])
        return prog, arrays
