"""The GIF of a run: a policy playing a few levels side by side (``generalist.gif``).

:func:`run_gif` draws the policy a ``results.json``'s ``gif`` entry names (docs/run_directory.md);
:func:`policy_frames` and :func:`save_gif` also work on plain data, for notebooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def policy_frames(
    env, frame_env, network, params, levels: Sequence[int], steps: int, seed: int = 0
) -> np.ndarray:
    """uint8 ``[steps, L, 64, 64, 3]``: the stochastic policy playing each of ``levels`` once.

    ``env`` is the environment the policy observes; ``frame_env`` the same game in pixel mode,
    whose ``render(state)`` draws the frames (the state does not depend on the observation
    mode). A level's frame freezes once its episode has ended.
    """
    import jax
    import jax.numpy as jnp

    from gsl_jax.distributions import distribution_for

    ids = jnp.asarray(np.asarray(levels, np.int32))
    n = ids.shape[0]

    @jax.jit
    def run(params, key):
        k_reset, k_run = jax.random.split(key)
        obs, state = jax.vmap(env.reset)(jax.random.split(k_reset, n), ids)

        def body(carry, k):
            obs, state, active = carry
            frame = jax.vmap(frame_env.render)(state)
            k_act, k_env = jax.random.split(k)
            dist, _ = network.apply(params, obs)
            action = distribution_for(dist).sample(k_act, dist)
            nobs, nstate, _, done, _ = jax.vmap(env.step)(jax.random.split(k_env, n), state, action)
            keep = lambda new, old: jnp.where(  # noqa: E731
                active.reshape((-1,) + (1,) * (new.ndim - 1)), new, old
            )
            nstate = jax.tree.map(keep, nstate, state)
            nobs = keep(nobs, obs)
            return (nobs, nstate, active & ~done), frame

        _, frames = jax.lax.scan(
            body, (obs, state, jnp.ones(n, bool)), jax.random.split(k_run, steps)
        )
        return frames

    return np.asarray(run(params, jax.random.key(seed)), np.uint8)


def save_gif(frames: np.ndarray, path: str | Path, scale: int = 2, fps: int = 12) -> Path:
    """Write ``frames`` (uint8 ``[T, H, W, 3]``, or ``[T, L, H, W, 3]`` tiled left to right with
    a 2-pixel gap) as an animated GIF, each pixel ``scale`` x ``scale``."""
    from PIL import Image

    f = np.asarray(frames, np.uint8)
    if f.ndim == 4:
        f = f[:, None]
    if f.ndim != 5 or f.shape[-1] != 3 or f.shape[0] == 0:
        raise ValueError(f"frames: expected [T, H, W, 3] or [T, L, H, W, 3], got {f.shape}")
    t, n, h, w, _ = f.shape
    gap = 2
    canvas = np.full((t, h, n * w + (n - 1) * gap, 3), 255, np.uint8)
    for i in range(n):
        canvas[:, :, i * (w + gap) : i * (w + gap) + w] = f[:, i]
    if scale > 1:
        canvas = canvas.repeat(scale, axis=1).repeat(scale, axis=2)
    images = [Image.fromarray(c) for c in canvas]
    path = Path(path)
    images[0].save(
        path,
        save_all=True,
        append_images=images[1:],
        duration=int(1000 / fps),
        loop=0,
        optimize=False,
    )
    return path


def load_policy(sub_run: str | Path):
    """``(env, env_spec, params, network)`` of the newest checkpoint of a GSL or PPO sub-run
    (a directory with ``config.json`` and ``checkpoints/``); params without a population axis."""
    import jax

    from gsl_jax.checkpoint import latest_checkpoint, read_meta, restore_checkpoint
    from gsl_jax.envs.registry import make_env
    from gsl_jax.gsl import RunBuilder, load_run_config

    _, spec, config = load_run_config(sub_run)
    env = make_env(spec["name"], **spec.get("options", {}))
    path = latest_checkpoint(Path(sub_run) / "checkpoints")
    if path is None:
        raise FileNotFoundError(f"run_dir: {sub_run} holds no complete checkpoint")
    build = RunBuilder(env, config)
    if "progress" in read_meta(path):  # a GSL checkpoint
        _, arrays = build.restore(path, build.fresh_generalist())
    else:
        arrays, _ = restore_checkpoint(path, {"generalist": build.fresh_generalist()})
    params = jax.tree.map(lambda x: x[0], arrays["generalist"].params)
    return env, spec, params, build.net


def run_gif(run_dir: str | Path, results: dict[str, Any], path: Path) -> Path:
    """``generalist.gif``: the policy of ``results["gif"]["run"]`` on the entry's levels."""
    from gsl_jax.envs.registry import make_env

    run_dir = Path(run_dir)
    gif = results["gif"]
    if results["backend"] != "jax":
        return _envpool_gif(run_dir, results, path)
    env, spec, params, net = load_policy(run_dir / gif["run"])
    options = dict(spec.get("options", {}), obs_mode="pixels")
    frame_env = make_env(spec["name"], **options)
    frames = policy_frames(env, frame_env, net, params, gif["levels"], gif["steps"], gif["seed"])
    return save_gif(frames, path)


def _envpool_gif(run_dir: Path, results: dict[str, Any], path: Path) -> Path:
    """The GIF of an EnvPool run: its ``params.npz`` on the real game's frames."""
    import jax

    from gsl_jax.distributions import distribution_for
    from gsl_jax.envs.core import Discrete
    from gsl_jax.envs.envpool import EnvPoolProcgen
    from gsl_jax.gsl import load_run_config
    from gsl_jax.networks import make_network

    gif = results["gif"]
    game, seed = gif["game"], gif["seed"]
    _, _, config = load_run_config(run_dir / gif["run"])
    net = make_network(config.network, Discrete(15), (64, 64, 3))
    like = net.init(jax.random.key(0), np.zeros((1, 64, 64, 3), np.uint8))
    with np.load(run_dir / gif["run"] / "params.npz") as data:
        leaves = [data[f"arr_{i}"] for i in range(len(data.files))]
    params = jax.tree.unflatten(jax.tree.structure(like), leaves)
    envs = [
        EnvPoolProcgen(game, results["distribution_mode"], num_envs=1, levels=[level])
        for level in gif["levels"]
    ]
    obs = np.concatenate([e.reset() for e in envs])
    active = np.ones(len(envs), bool)
    frames, key = [], jax.random.key(seed)
    apply = jax.jit(net.apply)
    for _ in range(gif["steps"]):
        frames.append(obs.copy())
        key, k = jax.random.split(key)
        dist, _ = apply(params, obs)
        action = np.asarray(distribution_for(dist).sample(k, dist))
        for i, e in enumerate(envs):
            if active[i]:
                o, _, done, _ = e.step(action[i : i + 1])
                active[i] = not bool(done[0])
                if active[i]:
                    obs[i] = o[0]
    for e in envs:
        e.close()
    return save_gif(np.stack(frames), path)
