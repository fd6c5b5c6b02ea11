"""The plateau map: where does PPO stop improving on the Procgen ports? (issue 19, item 1)

Long PPO runs on every registered port's compact observations, easy and hard, with several
training-level counts and seeds, and for each setting (game, mode, levels) the figures that
``docs/gsl_protocol.md`` (section 2) decides on: the smoothed final Procgen-normalised training
return, the gain over the run's last 40%, where the plateau starts and how long it lasts, and the
point at which the plateau criterion H (:mod:`gsl_jax.plateau`, the quick preset's settings) would
have fired on the curve (before the plateau or at it).

One compiled program per (game, mode): the seeds and the level counts of that game and mode are
one vmapped population (member ``(levels, seed)`` samples its episodes uniformly from levels
``0 .. levels - 1``; member keys differ, so seeds differ). The PPO settings and network are the
quick preset's (``PROCGEN_COMPACT``, ``MLP_64``). Curves are the mean training return of the
episodes each member finished in each chunk, normalised with the game's Procgen constants.

Each (game, mode) is written to ``<out>/plateau_<game>_<mode>.json`` as soon as it finishes, and a
rerun skips the ones already there (delete a file to redo it; a file of other settings is
refused); ``--report`` only reads them and prints the table and draws ``<out>/plateau_curves.png``.
A (game, mode) in progress is checkpointed every ``--checkpoint-every`` chunks under
``<out>/plateau_<game>_<mode>.ckpt/`` and the same command continues it from there, to the same
curves as an uninterrupted run; ``--stop-after-minutes M`` stops at the first checkpoint after
M minutes, so a long map can be spread over sessions of limited length. ``--split-levels`` runs
each level count of a (game, mode) as a program of its own (``plateau_<game>_<mode>_<n>levels``
files and checkpoints) and joins the parts into ``plateau_<game>_<mode>.json`` once all are
there: a member's run does not depend on which members share its program, so the joined curves
are those of one population, and each part takes a fraction of the time. A part on disk that a
run would not join (its level count not in ``--levels``, or no ``--split-levels``) is refused by
name before anything compiles. Example (the study's map)::

    python benchmarks/plateau_map.py --steps 10000000 --out runs/plateau_map

and a smoke run in seconds::

    python benchmarks/plateau_map.py --games maze --modes easy --levels 8 --seeds 0 \\
        --steps 40000 --num-envs 16 --out /tmp/plateau_smoke
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import jax
import numpy as np

from gsl_jax.checkpoint import (
    list_checkpoints,
    restore_checkpoint,
    restore_newest,
    save_checkpoint,
)
from gsl_jax.envs.core import VecEnv, stack_variation_sets
from gsl_jax.envs.procgen import GAMES, make
from gsl_jax.networks import make_network
from gsl_jax.plateau import PlateauConfig, first_firing, late_gain, plateau_onset, window_mean
from gsl_jax.population import init_population, make_chunk, place_population
from gsl_jax.presets import MLP_64, PROCGEN_COMPACT
from gsl_jax.scores import normalize_score

#: Protocol section 2: a plateau setting gains less than this over the last 40% ...
MAX_LATE_GAIN = 0.03
#: ... and ends below this (Procgen-normalised).
MAX_FINAL = 0.85
#: Rise (normalised) above which the curve has not yet settled (plateau onset).
ONSET_TOLERANCE = 0.03


def run_game_mode(
    game: str,
    mode: str,
    levels: list[int],
    seeds: list[int],
    steps: int,
    num_envs: int,
    updates_per_chunk: int,
    checkpoint_dir: Path | None = None,
    checkpoint_every: int = 20,
    deadline: float | None = None,
) -> dict | None:
    """Train the population of ``len(levels) * len(seeds)`` members; return the raw curves.

    With ``checkpoint_dir`` the population, the curves so far and the timing are saved there
    every ``checkpoint_every`` chunks, and a call that finds a checkpoint there continues from
    it (the same chunks, keys and curves as an uninterrupted run). Past ``deadline`` (a
    ``time.time()`` value) the call stops at its next checkpoint and returns ``None``.
    """
    env = make(game, distribution_mode=mode, obs_mode="symbolic")
    ppo = PROCGEN_COMPACT.replace(num_envs=num_envs)
    members = [(n, s) for n in levels for s in seeds]
    vec_env = VecEnv(env, ppo.num_envs)
    net = make_network(MLP_64, env.action_space, env.observation_space.shape)
    # One key per member, from its seed alone: a member's run does not depend on which other
    # members share the program. Sets of different sizes are padded to one capacity.
    sets = stack_variation_sets([np.arange(n) for n, _ in members], env)
    states = [
        init_population(
            jax.random.key(seed), vec_env, net, ppo, jax.tree.map(lambda x, p=p: x[p : p + 1], sets)
        )
        for p, (_, seed) in enumerate(members)
    ]
    state = jax.tree.map(lambda *xs: jax.numpy.concatenate(xs), *states)
    steps_per_chunk = updates_per_chunk * ppo.batch_size
    num_chunks = max(steps // steps_per_chunk, 1)
    settings = {
        "game": game,
        "mode": mode,
        "levels": list(levels),
        "seeds": list(seeds),
        "steps": steps,
        "num_envs": num_envs,
        "updates_per_chunk": updates_per_chunk,
    }
    returns = np.full((len(members), num_chunks), np.nan)
    first, trained, timed = 0, 0.0, 0  # timed: chunks in `trained` (never a compiling one)
    if checkpoint_dir is not None:
        found = restore_newest(checkpoint_dir, lambda path: restore_checkpoint(path, state))
        if found is not None:
            path, (state, meta) = found
            if meta.get("settings") != settings:
                raise ValueError(
                    f"{path}: a plateau-map checkpoint of other settings ({meta.get('settings')}); "
                    f"delete {checkpoint_dir} to start again with {settings}"
                )
            first, trained, timed = meta["chunks"], meta["trained"], meta["timed"]
            returns[:, :first] = np.asarray(meta["returns"], np.float64)
            print(f"  {game} {mode}: resumed from {path} after {first} chunks", flush=True)
    state, shardings = place_population(state, True)
    chunk = make_chunk(vec_env, net, ppo, updates_per_chunk, shardings)
    start = time.time()
    for c in range(first, num_chunks):
        tick = time.time()
        state, metrics = chunk(state)
        episodes = np.asarray(metrics["episodes"]).sum(0)  # [P]
        total = np.asarray(metrics["return_sum"]).sum(0)
        returns[:, c] = np.where(episodes > 0, total / np.maximum(episodes, 1), np.nan)
        if c > first:  # this invocation's first chunk includes the compile
            trained, timed = trained + time.time() - tick, timed + 1
        rate = timed * steps_per_chunk * len(members) / max(trained, 1e-9)
        if c % max(num_chunks // 20, 1) == 0 or c == num_chunks - 1:
            print(
                f"  {game} {mode}: {(c + 1) * steps_per_chunk:,}/{num_chunks * steps_per_chunk:,}"
                f" steps per member, {rate:,.0f} env-steps/s after compile, mean return "
                f"{np.nanmean(returns[:, c]):.2f}",
                flush=True,
            )
        if checkpoint_dir is not None and (c + 1) % checkpoint_every == 0 and c + 1 < num_chunks:
            meta = {
                "settings": settings,
                "chunks": c + 1,
                "trained": trained,
                "timed": timed,
                "returns": returns[:, : c + 1].tolist(),
            }
            save_checkpoint(checkpoint_dir, c + 1, state, meta)
            for old in list_checkpoints(checkpoint_dir)[:-1]:  # keep the newest only
                shutil.rmtree(old)
            if deadline is not None and time.time() > deadline:
                print(
                    f"  {game} {mode}: stopped after chunk {c + 1} of {num_chunks} "
                    f"(checkpoint in {checkpoint_dir}); the same command continues it",
                    flush=True,
                )
                return None
    return {
        "game": game,
        "mode": mode,
        "members": [{"levels": n, "seed": s} for n, s in members],
        "steps": [(c + 1) * steps_per_chunk for c in range(num_chunks)],
        "returns": returns.tolist(),
        "seconds": time.time() - start,
        "steps_per_second": timed * steps_per_chunk * len(members) / max(trained, 1e-9),
        "ppo": {"num_envs": ppo.num_envs, "num_steps": ppo.num_steps},
        "settings": settings,
    }


def analyse(result: dict, plateau: PlateauConfig) -> list[dict]:
    """One row per (levels) of a finished (game, mode): the protocol's figures."""
    game, mode = result["game"], result["mode"]
    steps = result["steps"]
    returns = np.asarray(result["returns"], np.float64)
    rows = []
    for n in sorted({m["levels"] for m in result["members"]}):
        idx = [i for i, m in enumerate(result["members"]) if m["levels"] == n]
        normalised = normalize_score(returns[idx], game, mode)  # [seeds, chunks]
        curve = np.nanmean(normalised, axis=0)
        curve = np.where(np.isfinite(curve), curve, 0.0)  # a chunk where no seed finished
        onset = plateau_onset(curve, ONSET_TOLERANCE, window=max(len(curve) // 20, 1))
        raw = np.nanmean(returns[idx], axis=0)
        fired, reason = first_firing(list(raw), steps, plateau)
        final = window_mean(curve, 1.0)
        gain = late_gain(curve)
        rows.append(
            {
                "game": game,
                "mode": mode,
                "levels": n,
                "seeds": len(idx),
                "steps": steps[-1],
                "final": final,
                "late_gain": gain,
                "plateau_setting": bool(gain < MAX_LATE_GAIN and final < MAX_FINAL),
                "onset_steps": steps[onset],
                "plateau_fraction": 1.0 - steps[onset] / steps[-1],
                "h_fires_at": None if fired is None else steps[fired],
                "h_reason": reason,
                "h_before_onset": fired is not None and steps[fired] < steps[onset],
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    """The markdown table of ``docs/gsl_study.md``."""
    lines = [
        "| game | mode | levels | seeds | env-steps | final (norm.) | gain, last 40% | plateau "
        "from | plateau length | H fires at | plateau setting |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fires = "never" if r["h_fires_at"] is None else f"{r['h_fires_at']:,}"
        if r["h_before_onset"]:
            fires += " (before)"
        lines.append(
            f"| {r['game']} | {r['mode']} | {r['levels']} | {r['seeds']} | {r['steps']:,} | "
            f"{r['final']:.3f} | {r['late_gain']:+.3f} | {r['onset_steps']:,} | "
            f"{r['plateau_fraction']:.0%} | {fires} | {'yes' if r['plateau_setting'] else 'no'} |"
        )
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> None:
    """Normalised training curves: one row per mode, one column per game (a panel per (game,
    mode), blank where that run is missing), one line per level count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    games = list(dict.fromkeys(r["game"] for r in results))
    modes = list(dict.fromkeys(r["mode"] for r in results))
    fig, axes = plt.subplots(
        len(modes), len(games), figsize=(3.2 * len(games), 2.8 * len(modes)), squeeze=False
    )
    for ax in axes.flat:
        ax.set_visible(False)
    for result in results:
        ax = axes[modes.index(result["mode"])][games.index(result["game"])]
        ax.set_visible(True)
        returns = np.asarray(result["returns"], np.float64)
        steps = np.asarray(result["steps"]) / 1e6
        for n in sorted({m["levels"] for m in result["members"]}):
            idx = [i for i, m in enumerate(result["members"]) if m["levels"] == n]
            norm = normalize_score(returns[idx], result["game"], result["mode"])
            ax.plot(steps, np.nanmean(norm, axis=0), label=f"{n} levels")
        ax.set_title(f"{result['game']} {result['mode']}", fontsize=9)
        ax.set_xlabel("env-steps (M)")
        ax.set_ylabel("normalised train return")
        ax.set_ylim(-0.05, 1.05)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def join_parts(parts: list[dict]) -> dict:
    """One (game, mode) result from its ``--split-levels`` parts (one per level count, in the
    order of ``--levels``): members, curves and timings side by side, as one run would hold them.
    """
    first = parts[0]
    for part in parts[1:]:
        for key in ("game", "mode", "steps", "ppo"):
            if part[key] != first[key]:
                raise SystemExit(
                    f"{first['game']} {first['mode']}: its --split-levels parts differ in {key!r} "
                    f"({first[key]} against {part[key]}); delete the parts to run them again"
                )
    member_steps = [p["steps"][-1] * len(p["members"]) for p in parts]
    # The population's rate: all members' env-steps over the time the parts trained in all.
    trained = sum(n / p["steps_per_second"] for n, p in zip(member_steps, parts, strict=True))
    settings = dict(first["settings"], levels=[lv for p in parts for lv in p["settings"]["levels"]])
    return {
        "game": first["game"],
        "mode": first["mode"],
        "members": [m for p in parts for m in p["members"]],
        "steps": first["steps"],
        "returns": [row for p in parts for row in p["returns"]],
        "seconds": sum(p["seconds"] for p in parts),
        "steps_per_second": sum(member_steps) / max(trained, 1e-9),
        "ppo": first["ppo"],
        "settings": settings,
        "parts": [
            {
                "levels": p["settings"]["levels"],
                "seconds": p["seconds"],
                "steps_per_second": p["steps_per_second"],
            }
            for p in parts
        ],
    }


def check_settings(
    path: Path,
    result: dict,
    args: argparse.Namespace,
    game: str,
    mode: str,
    levels: list[int] | None = None,
) -> None:
    """Refuse a stored result whose members or length differ from this command's (the file
    would otherwise stand in silently for the run asked for); ``--report`` reads any.
    ``levels``: the level counts the file should hold (default ``--levels``; one for a part)."""
    levels = args.levels if levels is None else levels
    members = [{"levels": n, "seed": s} for n in levels for s in args.seeds]
    length = max(
        args.steps // (args.updates_per_chunk * args.num_envs * PROCGEN_COMPACT.num_steps), 1
    )
    if args.report:
        return
    if result.get("members") != members or len(result.get("steps", [])) != length:
        raise SystemExit(
            f"{path}: holds {game} {mode} with members {result.get('members')} and "
            f"{len(result.get('steps', []))} chunks, not this command's {members} and {length} "
            "chunks; use another --out or delete the file to run it again"
        )


def train(
    game: str,
    mode: str,
    levels: list[int],
    args: argparse.Namespace,
    path: Path,
    deadline: float | None,
) -> dict | None:
    """Run (or continue, from ``path``'s checkpoint) one population and write it to ``path``;
    ``None`` when it stopped at its deadline (the checkpoint stays)."""
    print(f"{game} {mode}: levels {levels}, seeds {args.seeds}", flush=True)
    checkpoints = path.with_suffix(".ckpt")
    result = run_game_mode(
        game,
        mode,
        levels,
        args.seeds,
        args.steps,
        args.num_envs,
        args.updates_per_chunk,
        checkpoints,
        args.checkpoint_every,
        deadline,
    )
    if result is None:
        return None
    write_result(path, result)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return result


def write_result(path: Path, result: dict) -> None:
    """Write ``result`` to ``path`` as JSON, whole or not at all (through a temporary file)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(path)


def part_path(out: Path, game: str, mode: str, levels: int) -> Path:
    """Where ``--split-levels`` keeps the part of one level count until the parts are joined."""
    return out / f"plateau_{game}_{mode}_{levels}levels.json"


def stray_parts(out: Path, game: str, mode: str, levels: list[int], split: bool) -> list[Path]:
    """The ``--split-levels`` parts (files or checkpoints) of ``game``/``mode`` under ``out``
    that this run would not join: all of them without ``--split-levels``, else those of a level
    count outside ``levels``. Left alone, the run would write a joined file without them."""
    found = sorted(out.glob(f"plateau_{game}_{mode}_*levels.*"))
    wanted = {part_path(out, game, mode, n).stem for n in levels} if split else set()
    return [p for p in found if p.stem not in wanted]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--games", nargs="+", default=list(GAMES), choices=list(GAMES))
    parser.add_argument("--modes", nargs="+", default=["easy", "hard"], choices=["easy", "hard"])
    parser.add_argument("--levels", nargs="+", type=int, default=[200, 1000])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=10_000_000, help="env-steps per member")
    parser.add_argument("--num-envs", type=int, default=PROCGEN_COMPACT.num_envs)
    parser.add_argument("--updates-per-chunk", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("runs/plateau_map"))
    parser.add_argument("--report", action="store_true", help="only read what is there")
    parser.add_argument(
        "--checkpoint-every", type=int, default=20, help="chunks between checkpoints (resume)"
    )
    parser.add_argument(
        "--stop-after-minutes",
        type=float,
        default=None,
        help="stop at the first checkpoint after this many minutes; rerun to continue",
    )
    parser.add_argument(
        "--split-levels",
        action="store_true",
        help="one program per level count, joined into the (game, mode) file at the end",
    )
    args = parser.parse_args(argv)
    for name in ("steps", "num_envs", "updates_per_chunk", "checkpoint_every"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')}: must be positive")
    if any(n <= 0 for n in args.levels):
        parser.error("--levels: every level count must be positive")
    for game in [] if args.report else args.games:
        for mode in args.modes:
            if (args.out / f"plateau_{game}_{mode}.json").exists():
                continue  # skipped whole; its parts, if any, are not read
            stray = stray_parts(args.out, game, mode, args.levels, args.split_levels)
            if stray:
                raise SystemExit(
                    f"{stray[0]}: a --split-levels part this run would leave out (levels "
                    f"{args.levels}{'' if args.split_levels else ', no --split-levels'}); "
                    "run with the levels and --split-levels that made it, or delete it"
                )
    args.out.mkdir(parents=True, exist_ok=True)
    plateau = PlateauConfig(min_steps=0, max_steps=2**62)  # H's shape only: never the budget
    deadline = None
    if args.stop_after_minutes is not None:
        deadline = time.time() + 60 * args.stop_after_minutes
    results = []
    for game in args.games:
        for mode in args.modes:
            path = args.out / f"plateau_{game}_{mode}.json"
            if path.exists():
                result = json.loads(path.read_text())
                check_settings(path, result, args, game, mode)
                results.append(result)
                continue
            parts = {n: part_path(args.out, game, mode, n) for n in args.levels}
            if args.report:
                done = [n for n, part in parts.items() if part.exists()]
                if done:
                    print(f"{game} {mode}: --split-levels parts done for levels {done}")
                continue
            if not args.split_levels:
                result = train(game, mode, args.levels, args, path, deadline)
                if result is None:
                    return
            else:
                joined = []
                for n, part in parts.items():
                    if part.exists():
                        joined.append(json.loads(part.read_text()))
                        check_settings(part, joined[-1], args, game, mode, levels=[n])
                        continue
                    joined.append(train(game, mode, [n], args, part, deadline))
                    if joined[-1] is None:
                        return
                result = join_parts(joined)
                write_result(path, result)
                for part in parts.values():
                    part.unlink()
            results.append(result)
    rows = [row for result in results for row in analyse(result, plateau)]
    print(table(rows))
    (args.out / "plateau_map.json").write_text(json.dumps(rows, indent=1))
    if results:
        plot(results, args.out / "plateau_curves.png")


if __name__ == "__main__":
    main()
