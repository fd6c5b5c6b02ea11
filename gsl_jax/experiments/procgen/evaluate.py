"""The experiment's final evaluation: every policy of one (game, seed) per level, on the
training and the held-out levels (``eval.json``, docs/run_directory.md).

:class:`Context` restores the runs' policies (GSL checkpoints and the PPO baseline's);
:func:`evaluate_run` scores them on the JAX ports, :func:`evaluate_envpool` on the real games.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np

from gsl_jax.checkpoint import latest_checkpoint, list_checkpoints, read_meta, restore_checkpoint
from gsl_jax.envs.core import Environment
from gsl_jax.experiments.procgen.settings import Settings
from gsl_jax.gsl import GSLConfig
from gsl_jax.gsl_branch import branch_point
from gsl_jax.phases import make_run_builder


class Context:
    """The network, env batch, compiled chunk and a fresh generalist (the restore template) of
    one (game, seed), built once: every :func:`~gsl_jax.population.init_population` call
    compiles anew."""

    def __init__(self, env: Environment, config: GSLConfig):
        self.env, self.config = env, config
        # the very network, env batch and init GSL uses (a host env gets the host builder)
        self.build = make_run_builder(env, config)
        self._like = None

    @property
    def like(self):
        """A fresh generalist (population axis of one): the restore template."""
        if self._like is None:
            self._like = self.build.fresh_generalist()
        return self._like

    def restore_gsl(self, path: Path):
        """``(progress, arrays)`` of a GSL checkpoint."""
        return self.build.restore(path, self.like)

    def restore_ppo(self, path: Path):
        """``(state, meta)`` of a PPO checkpoint (``{"generalist": state}``)."""
        arrays, meta = restore_checkpoint(path, {"generalist": self.like})
        attach = getattr(self.build, "attach", None)  # host envs: re-seeded, first observations
        return (attach or (lambda s: s))(arrays["generalist"]), meta


def _split_scores(scores, n_train: int) -> dict[str, dict[str, list[float]]]:
    ret, suc = scores.mean_return(), scores.success_rate()
    return {
        "train": {"return": ret[:n_train].tolist(), "success": suc[:n_train].tolist()},
        "heldout": {"return": ret[n_train:].tolist(), "success": suc[n_train:].tolist()},
    }


def _first(tree):
    return jax.tree.map(lambda x: x[0], tree)


def evaluate_run(ctx: Context, s: Settings, sub: Path, seed: int) -> dict[str, Any]:
    """``eval.json`` of one (game, seed) whose runs lie in ``sub/{gsl,ppo}``: per-level mean
    return and success of GSL's final generalist (``gsl``), its generalist at the branch point
    (``phase1``), the PPO baseline (``ppo``) and each specialist on its own levels."""
    n, k = s.num_levels, s.heldout_levels
    ids = np.arange(n + k)
    out: dict[str, Any] = {
        "train_levels": [0, n],
        "heldout_levels": [n, n + k],
        "episodes": s.final_eval_episodes,
        "policies": {},
    }

    def score(params, levels=ids):
        return ctx.build.evaluate(params, levels, s.final_eval_episodes, 10_000 + seed)

    gsl_dir = sub / "gsl"
    if "gsl" in s.methods:
        ckpts = list_checkpoints(gsl_dir / "checkpoints")
        _, arrays = ctx.restore_gsl(ckpts[-1])
        out["policies"]["gsl"] = _split_scores(score(_first(arrays["generalist"].params)), n)
        _, arrays = ctx.restore_gsl(branch_point(gsl_dir))
        out["policies"]["phase1"] = _split_scores(score(_first(arrays["generalist"].params)), n)
        # The specialists as they ended training: the "demos" checkpoint (at the boundary after
        # their phase) holds them; the last "specialists" one may predate their last chunks and
        # is the fallback for runs written before boundary checkpoints held them.
        spec = [p for p in ckpts if read_meta(p)["progress"]["phase"] in ("specialists", "demos")]
        if spec:
            out["specialists"] = _score_specialists(ctx, spec[-1], score)
    if "ppo" in s.methods:
        state, _ = ctx.restore_ppo(latest_checkpoint(sub / "ppo" / "checkpoints"))
        out["policies"]["ppo"] = _split_scores(score(_first(state.params)), n)
    return out


def _score_specialists(ctx: Context, path: Path, score) -> dict[str, Any]:
    """Each specialist of checkpoint ``path`` on its own levels, listed in E_low's order, and
    the chunks they had trained (``chunks_trained``)."""
    prog, arrays = ctx.restore_gsl(path)
    per_level: dict[int, tuple[float, float]] = {}
    for i, subset in enumerate(prog.subsets):
        params = jax.tree.map(lambda x, i=i: x[i], arrays["worker"].params)
        sc_i = score(params, np.asarray(subset))
        for v, r, w in zip(subset, sc_i.mean_return(), sc_i.success_rate(), strict=True):
            per_level[int(v)] = (float(r), float(w))
    low = [int(v) for v in prog.low]
    return {
        "levels": low,
        "subsets": prog.subsets,
        "return": [per_level[v][0] for v in low],
        "success": [per_level[v][1] for v in low],
        "chunks_trained": sum(r["phase"] == "specialists" for r in prog.records),
    }


def evaluate_envpool(game: str, s: Settings, network, params, levels: range, seed: int) -> dict:
    """Host evaluation on the real game: every env plays its first ``final_eval_episodes``
    episodes on levels drawn from ``levels``; returns per-level means (levels never drawn are
    left out) with their ``levels`` list."""
    from gsl_jax.distributions import distribution_for
    from gsl_jax.envs.envpool import EnvPoolProcgen

    num_envs = min(64, max(1, len(levels)))
    env = EnvPoolProcgen(
        game, s.distribution_mode, num_envs=num_envs, levels=levels, seed=100_000 + seed * num_envs
    )
    apply = jax.jit(network.apply)
    key = jax.random.key(seed)
    obs = env.reset()
    remaining = np.full(num_envs, s.final_eval_episodes)
    by_level: dict[int, list[tuple[float, bool]]] = {}
    while remaining.max() > 0:
        key, k = jax.random.split(key)
        dist, _ = apply(params, obs)
        action = np.asarray(distribution_for(dist).sample(k, dist))
        obs, _, done, info = env.step(action)
        for b in np.flatnonzero(done & (remaining > 0)):
            by_level.setdefault(int(info["variation"][b]), []).append(
                (float(info["episode_return"][b]), bool(info["success"][b]))
            )
            remaining[b] -= 1
    env.close()
    seen = sorted(by_level)
    return {
        "levels": seen,
        "return": [float(np.mean([r for r, _ in by_level[v]])) for v in seen],
        "success": [float(np.mean([w for _, w in by_level[v]])) for v in seen],
    }


def save_params(path: Path, params: Any) -> None:
    """Write a parameter tree's leaves (in tree order) to ``path`` (``.npz``)."""
    np.savez(path, *jax.tree.leaves(params))


def load_params(path: Path, like: Any) -> Any:
    """The tree of :func:`save_params`, shaped like ``like``."""
    with np.load(path) as data:
        leaves = [data[f"arr_{i}"] for i in range(len(data.files))]
    return jax.tree.unflatten(jax.tree.structure(like), leaves)
