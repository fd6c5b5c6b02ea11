"""The experiment's run directory and ``results.json`` (the schema is docs/run_directory.md).

:func:`prepare_run_dir` checks a directory before anything trains; :func:`summarize` builds
``results.json`` from the per-(game, seed) ``eval.json`` and each run's ``result.json``;
:func:`merge_metrics` writes the tagged ``metrics.jsonl``; :func:`print_table` the Markdown table.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from gsl_jax import scores as sc
from gsl_jax.experiments.procgen.settings import Settings

EXPERIMENT_KIND = "gsl_jax.experiments.procgen"
#: ``experiment.json`` of version 1 (flat settings), written by the first benchmark script.
LEGACY_KIND = "gsl_jax.benchmarks.procgen_gsl"
EXPERIMENT_VERSION = 2
#: The ``results.json`` schema :mod:`gsl_jax.report` reads (docs/run_directory.md).
RESULTS_VERSION = 2


def run_path(game: str, seed: int, method: str | None = None) -> str:
    """A (game, seed)'s directory, or one method's run in it, relative to the run directory."""
    sub = f"{game}/seed{seed}"
    return sub if method is None else f"{sub}/{method}"


def write_json(path: Path, data: Any) -> None:
    """Replace ``path`` atomically with ``data`` as indented JSON."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file (``[]`` if it does not exist)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_experiment(run_dir: Path) -> Settings | None:
    """The settings saved in ``run_dir/experiment.json`` (version 1 or 2), ``None`` if it has
    none. ``ValueError`` naming the file (and the field) if it cannot be read as this
    experiment's."""
    path = run_dir / "experiment.json"
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"run_dir: {path} is unreadable ({err})") from None
    if not isinstance(saved, dict) or saved.get("kind") not in (EXPERIMENT_KIND, LEGACY_KIND):
        kind = saved.get("kind") if isinstance(saved, dict) else None
        raise ValueError(f"run_dir: {run_dir} holds another kind of run ({kind})")
    try:
        return Settings.from_dict(saved.get("settings"))
    except ValueError as err:
        raise ValueError(
            f"run_dir: {path} cannot be resumed by this version ({err}); choose another --run-dir"
        ) from None


def prepare_run_dir(run_dir: Path, s: Settings, resume: bool) -> bool:
    """Check ``run_dir`` against ``s`` and ``resume``; returns whether the experiment is finished.

    A fresh run needs an empty or missing directory; a resumed one needs this experiment's
    ``experiment.json`` with the same settings. Raises ``FileExistsError`` / ``ValueError`` /
    ``FileNotFoundError`` naming ``run_dir`` otherwise. Writes nothing.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"run_dir: {run_dir} is a file")
    saved = read_experiment(run_dir)
    if saved is not None:
        old, new = saved.to_dict(), s.to_dict()
        diffs = [f"{k}: saved {old.get(k)!r}, given {v!r}" for k, v in new.items() if old[k] != v]
        if diffs:
            raise ValueError(
                f"run_dir: {run_dir} holds another experiment ({'; '.join(diffs[:4])}); "
                "choose another --run-dir"
            )
        if not resume:
            state = "a finished" if (run_dir / "results.json").exists() else "an unfinished"
            raise FileExistsError(
                f"run_dir: {run_dir} already holds {state} run of this experiment; pass --resume "
                "to continue it (or redraw with `gsl-jax report`), or choose another --run-dir"
            )
        return (run_dir / "results.json").exists()
    if run_dir.is_dir() and any(run_dir.iterdir()):
        raise ValueError(
            f"run_dir: {run_dir} is not empty and holds no procgen_gsl experiment; choose "
            "another --run-dir"
        )
    if resume:
        raise FileNotFoundError(f"run_dir: {run_dir} holds no experiment to resume")
    return False


def merge_metrics(run_dir: Path, s: Settings) -> None:
    """Rewrite ``RUN_DIR/metrics.jsonl``: every run's records tagged with game, seed, method."""
    lines = []
    for game in s.games:
        for seed in s.seeds:
            for method in s.methods:
                path = run_dir / run_path(game, seed, method) / "metrics.jsonl"
                for r in read_jsonl(path):
                    lines.append(json.dumps({"game": game, "seed": seed, "method": method, **r}))
    tmp = run_dir / "metrics.jsonl.tmp"
    tmp.write_text("".join(line + "\n" for line in lines))
    tmp.replace(run_dir / "metrics.jsonl")


def _split_summary(per: dict[str, list[float]], game: str, s: Settings) -> dict[str, float]:
    mean_return = float(np.mean(per["return"]))
    normalized = sc.normalize_score(mean_return, game, s.distribution_mode, s.backend)
    return {
        "return": mean_return,
        "success": float(np.mean(per["success"])),
        "normalized": float(normalized),
    }


def _run_row(run_dir: Path, s: Settings, game: str, seed: int, method: str, ev: dict) -> dict:
    row: dict[str, Any] = {
        "game": game,
        "seed": seed,
        "method": method,
        "dir": run_path(game, seed, method),
    }
    res_path = run_dir / run_path(game, seed, method) / "result.json"
    if res_path.exists():
        res = json.loads(res_path.read_text())
        row["total_steps"] = res.get("total_steps")
        if method == "gsl":
            row["generalist_steps"] = res.get("generalist_steps")
            row["demos_kept"] = res.get("demos_kept")
            row["low_levels"] = res.get("low_variations")
    for split in ("train", "heldout"):
        row[split] = _split_summary(ev["policies"][method][split], game, s)
    return row


def summarize(run_dir: Path, s: Settings) -> dict[str, Any]:
    """``results.json`` (schema version :data:`RESULTS_VERSION`, docs/run_directory.md): per
    (game, seed, method) train / held-out return, success and normalised score, the aggregates
    over games and seeds, and where each run, evaluation and the GIF's policy lie."""
    runs, evaluations = [], []
    for game in s.games:
        for seed in s.seeds:
            eval_path = f"{run_path(game, seed)}/eval.json"
            ev = json.loads((run_dir / eval_path).read_text())
            evaluations.append({"game": game, "seed": seed, "path": eval_path})
            runs += [_run_row(run_dir, s, game, seed, m, ev) for m in s.methods]
    aggregates: dict[str, Any] = {}
    for method in s.methods:
        aggregates[method] = {}
        for split in ("train", "heldout"):
            matrix, _, _ = sc.score_matrix(runs, method, split)
            aggregates[method][split] = sc.aggregate(matrix, reps=2000, seed=0)
    n, k = s.num_levels, s.heldout_levels
    gif = None
    if s.gif_levels > 0:
        game, seed = s.games[0], s.seeds[0]
        method = "gsl" if "gsl" in s.methods else "ppo"
        gif = {
            "game": game,
            "seed": seed,
            "run": run_path(game, seed, method),
            "levels": list(range(n, n + s.gif_levels)),
            "steps": s.gif_steps,
        }
    return {
        "kind": EXPERIMENT_KIND,
        "version": RESULTS_VERSION,
        "games": list(s.games),
        "seeds": list(s.seeds),
        "methods": list(s.methods),
        "backend": s.backend,
        "distribution_mode": s.distribution_mode,
        "train_levels": [0, n],
        "heldout_levels": [n, n + k],
        "runs": runs,
        "evaluations": evaluations,
        "aggregates": aggregates,
        "gif": gif,
        "score_constants": {
            g: list(sc.score_range(g, s.distribution_mode, s.backend)) for g in s.games
        },
        "settings": s.to_dict(),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "jax_backend": jax.default_backend(),
            "devices": [str(d) for d in jax.devices()],
        },
    }


def _mean_std(values: list[float]) -> str:
    v = np.asarray(values, float)
    return f"{v.mean():.2f} +- {v.std():.2f}" if v.size > 1 else f"{v.mean():.2f}"


def print_table(results: dict[str, Any], write: Callable[[str], None] = print) -> None:
    """The per-game table and the aggregates of a ``results.json``, as Markdown."""
    write(
        "\n| game | method | train return | held-out return | held-out success "
        "| held-out normalised | total env-steps |"
    )
    write("|---|---|---|---|---|---|---|")
    for game in results["games"]:
        for method in results["methods"]:
            rows = [r for r in results["runs"] if r["game"] == game and r["method"] == method]
            write(
                f"| {game} | {method.upper()} | {_mean_std([r['train']['return'] for r in rows])}"
                f" | {_mean_std([r['heldout']['return'] for r in rows])} | "
                f"{_mean_std([r['heldout']['success'] for r in rows])} | "
                f"{_mean_std([r['heldout']['normalized'] for r in rows])} | "
                f"{int(np.mean([r.get('total_steps') or 0 for r in rows])):,} |"
            )
    write("\nAggregates of normalised scores over games and seeds (95% stratified bootstrap CI):")
    for method, per in results["aggregates"].items():
        for split, agg in per.items():
            parts = [
                f"{name} {v['point']:.3f} [{v['ci'][0]:.3f}, {v['ci'][1]:.3f}]"
                for name, v in agg.items()
            ]
            write(f"  {method.upper():4s} {split:8s} " + ", ".join(parts))
