"""SHA-256 digests of fixed Procgen-port rollouts, to show a refactor changes no behaviour.

``rollout_digests(game, mode)`` runs ``VecEnv(make(game, mode), 64)`` for 1,500 steps on levels
0..199 with uniform random actions (fixed keys) and hashes, in step order, every frame the envs
show, and separately the reward and done streams. ``tests/test_procgen_frames.py`` compares the
digests with ``tests/data/frame_checksums.json``, which was written by running this file as a
script on the code *before* the ports moved onto the ``ProcgenPort`` base:

    python tests/frame_checksums.py --write     # only when a behaviour change is intended
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import jax
import numpy as np

from gsl_jax.envs.core import VariationSet, VecEnv
from gsl_jax.envs.procgen import make

NUM_ENVS = 64
STEPS = 1500
CHUNK = 100  # steps per compiled call: 100 x 64 frames = 79 MB on the host at a time
LEVELS = 200
GAMES = ("maze", "heist", "bigfish", "coinrun", "chaser", "leaper", "miner", "dodgeball")
MODES = ("easy", "hard")
PATH = Path(__file__).parent / "data" / "frame_checksums.json"


def rollout_digests(game: str, mode: str) -> dict[str, str]:
    """``{"frames": sha256, "rewards": sha256, "dones": sha256}`` of the fixed rollout.

    Frames are uint8 ``[STEPS, NUM_ENVS, 64, 64, 3]`` hashed chunk by chunk in step order;
    rewards are float32 ``[STEPS, NUM_ENVS]``, dones bool ``[STEPS, NUM_ENVS]``.
    """
    env = make(game, distribution_mode=mode, obs_mode="pixels")
    vec = VecEnv(env, NUM_ENVS)
    levels = VariationSet.range(LEVELS)
    n_actions = env.action_space.n

    @jax.jit
    def chunk(state, key, bank):
        def body(state, key):
            k_act, k_draw = jax.random.split(key)
            action = jax.random.randint(k_act, (NUM_ENVS,), 0, n_actions)
            draws = vec.draw(k_draw, levels, bank=bank)
            state, reward, done, _ = vec.step_with_draws(draws, state, action)
            return state, (state.obs, reward, done)

        return jax.lax.scan(body, state, jax.random.split(key, CHUNK))

    bank = jax.jit(vec.level_bank)(levels)
    state = jax.jit(vec.reset)(jax.random.key(0), levels)
    hashes = {name: hashlib.sha256() for name in ("frames", "rewards", "dones")}
    hashes["frames"].update(np.asarray(state.obs).tobytes())
    for key in jax.random.split(jax.random.key(1), STEPS // CHUNK):
        state, (obs, reward, done) = chunk(state, key, bank)
        hashes["frames"].update(np.asarray(obs).tobytes())
        hashes["rewards"].update(np.asarray(reward, np.float32).tobytes())
        hashes["dones"].update(np.asarray(done, np.bool_).tobytes())
    return {name: h.hexdigest() for name, h in hashes.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help=f"overwrite {PATH.name}")
    args = parser.parse_args()
    table = {f"{g}-{m}": rollout_digests(g, m) for g in GAMES for m in MODES}
    print(json.dumps(table, indent=1))
    if args.write:
        PATH.write_text(json.dumps(table, indent=1) + "\n")
        print(f"wrote {PATH}")


if __name__ == "__main__":
    main()
