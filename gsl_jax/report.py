"""Plots and a GIF of an experiment's run directory (``gsl-jax report RUN_DIR``).

:func:`write_report` reads a run directory that follows the schema of docs/run_directory.md
(written, for instance, by :mod:`gsl_jax.experiments.procgen`) and (re)draws

* ``learning_curves.png``: mean training return against **total** env-steps (specialists,
  selection evaluation and demo rollouts included) of PPO and of GSL's generalist, one panel per
  game, one line per seed; GSL's phase boundaries (of every cycle) are dashed vertical lines
  and its specialist phases are shaded;
* ``level_heatmap.png``: per-level mean return on the levels GSL handed to its specialists, for
  the generalist at the end of phase I, the specialist of each level, GSL's final generalist and
  the PPO baseline (one panel per game and seed, at most six);
* ``scores.png``: Procgen-normalised train and held-out scores per game (mean over seeds, each
  seed a dot) and the aggregates over games and seeds (IQM, mean, optimality gap) with their 95%
  stratified bootstrap confidence intervals;
* ``generalist.gif``: the policy ``results.json``'s ``gif`` entry names playing its held-out
  levels side by side, drawn from the port's pixel renderer (or the real game's frames for
  EnvPool runs).

What it reads: ``results.json`` (:data:`RESULTS_KEYS`: games, seeds, methods, backend,
distribution mode, level ranges, the ``runs`` with their directories and scores, the
``evaluations``, the ``aggregates``, the ``gif``), each run's ``metrics.jsonl`` (one record per
chunk with ``phase``, ``total_steps``, ``return_mean``), each ``eval.json`` (per-level returns)
and, for the GIF, the run's ``config.json`` and checkpoints (or ``params.npz``). The plotting
functions also work on plain data, for notebooks: :func:`plot_curves`, :func:`policy_frames`,
:func:`save_gif`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

# policy_frames and save_gif are re-exported: notebooks draw GIFs of their own policies with them
from gsl_jax.report_gif import policy_frames, run_gif, save_gif  # noqa: F401

CURVES_PNG = "learning_curves.png"
HEATMAP_PNG = "level_heatmap.png"
SCORES_PNG = "scores.png"
GIF = "generalist.gif"
#: Colours per method, fixed so that every plot agrees.
COLORS = {"ppo": "C0", "gsl": "C3", "phase1": "C7", "specialist": "C2"}
#: Record phases drawn as a learner's curve: GSL's generalist (phases I and II) and a PPO run's
#: learners ("population": several seeds, or a host PPO run written before its single learner
#: was labelled "generalist"); GSL's specialists are shaded instead.
GENERALIST_PHASES = ("generalist", "generalist+dapg", "population")
#: The keys of ``results.json`` the report reads (docs/run_directory.md).
RESULTS_KEYS = (
    "games",
    "seeds",
    "methods",
    "backend",
    "distribution_mode",
    "train_levels",
    "heldout_levels",
    "runs",
    "evaluations",
    "aggregates",
    "gif",
)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_results(run_dir: str | Path) -> dict[str, Any]:
    """``results.json`` of ``run_dir``; ``FileNotFoundError`` naming it if the run has none,
    ``ValueError`` naming the first of :data:`RESULTS_KEYS` it lacks."""
    path = Path(run_dir) / "results.json"
    if not path.exists():
        raise FileNotFoundError(f"run_dir: {run_dir} has no results.json (not a finished run)")
    results = json.loads(path.read_text())
    missing = [k for k in RESULTS_KEYS if k not in results]
    if missing:
        raise ValueError(
            f"results.json: {path} lacks {missing[0]!r}, so it predates the run-directory schema "
            "(docs/run_directory.md); resuming the experiment in it rewrites it without training"
        )
    return results


def smooth(values: Sequence[float], window: int = 3) -> np.ndarray:
    """Trailing moving average over the finite values (NaN points stay NaN)."""
    x = np.asarray(values, np.float64)
    out = np.full_like(x, np.nan)
    finite = np.isfinite(x)
    for i in range(x.size):
        lo = max(0, i - window + 1)
        seg = x[lo : i + 1][finite[lo : i + 1]]
        if finite[i] and seg.size:
            out[i] = seg.mean()
    return out


def phase_boundaries(records: Sequence[dict[str, Any]]) -> list[tuple[float, str]]:
    """``[(total_steps, new_phase)]`` where the phase changes between consecutive records, in
    every GSL cycle (a phase of cycle 2 or later is named ``"specialists (cycle 2)"``); the
    boundary sits at the previous record's ``total_steps`` (the end of the old phase)."""
    out = []
    for prev, cur in zip(records, records[1:], strict=False):
        if cur["phase"] != prev["phase"]:
            cycle = cur.get("cycle", 1)
            name = cur["phase"] if cycle == 1 else f"{cur['phase']} (cycle {cycle})"
            out.append((float(prev["total_steps"]), name))
    return out


def specialist_spans(records: Sequence[dict[str, Any]]) -> list[tuple[float, float]]:
    """``[(start, end)]`` total-steps spans of each cycle's specialists (and pi_g_low): from the
    end of the phase before to the last specialist record."""
    spans: list[tuple[float, float]] = []
    for i, r in enumerate(records):
        if r["phase"] not in ("specialists", "finetune_low"):
            continue
        if i and records[i - 1]["phase"] in ("specialists", "finetune_low"):
            spans[-1] = (spans[-1][0], float(r["total_steps"]))
        else:
            start = records[i - 1]["total_steps"] if i else 0
            spans.append((float(start), float(r["total_steps"])))
    return spans


def plot_curves(ax, curves: dict[str, list[list[dict[str, Any]]]], title: str = "") -> None:
    """Draw learning curves on ``ax``: ``curves[method]`` is one record list per seed
    (``total_steps``, ``return_mean``, ``phase``). GSL's specialist phase is shaded and its phase
    boundaries are dashed lines."""
    labelled = set()
    for method, runs in curves.items():
        for records in runs:
            if not records:
                continue
            # one segment per run of generalist records, smoothed on its own; NaN gaps where
            # GSL's generalist did not train
            segments: list[list[dict[str, Any]]] = []
            for prev, r in zip([None, *records], records, strict=False):
                if r.get("phase", "generalist") not in GENERALIST_PHASES:
                    continue
                if prev is None or prev.get("phase") != r.get("phase"):
                    segments.append([])
                segments[-1].append(r)
            x, y = [], []
            for seg in segments:
                # EnvPool (train_ppo_host) records carry only "step", its total env-steps
                x += [r.get("total_steps", r.get("step")) for r in seg] + [np.nan]
                y += list(smooth([r.get("return_mean", math.nan) for r in seg])) + [np.nan]
            label = {"ppo": "PPO", "gsl": "GSL generalist"}.get(method, method)
            ax.plot(
                x,
                y,
                color=COLORS.get(method, None),
                lw=1.3,
                alpha=0.85,
                label=None if method in labelled else label,
            )
            labelled.add(method)
            if method != "gsl":
                continue
            for left, right in specialist_spans(records):
                ax.axvspan(
                    left,
                    right,
                    color=COLORS["specialist"],
                    alpha=0.12,
                    label=None if "span" in labelled else "GSL specialists",
                )
                labelled.add("span")
            for x_b, phase in phase_boundaries(records):
                ax.axvline(
                    x_b,
                    color=COLORS["gsl"],
                    ls="--",
                    lw=0.8,
                    alpha=0.6,
                    label=None if "bound" in labelled else "GSL phase boundary",
                )
                labelled.add("bound")
                ax.annotate(
                    phase,
                    (x_b, 1.0),
                    xycoords=("data", "axes fraction"),
                    rotation=90,
                    va="top",
                    ha="right",
                    fontsize=6,
                    color="0.3",
                )
    ax.set_xlabel("total env-steps (specialists, evaluation, demos included)")
    ax.set_ylabel("mean training episode return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")


def plot_learning_curves(run_dir: str | Path, results: dict[str, Any], path: Path) -> Path:
    """``learning_curves.png`` (see the module docstring)."""
    plt = _plt()
    run_dir = Path(run_dir)
    games = results["games"]
    first, end = results["train_levels"]
    mode = results["distribution_mode"]
    fig, axes = plt.subplots(1, len(games), figsize=(6.5 * len(games), 4), squeeze=False)
    for ax, game in zip(axes[0], games, strict=True):
        curves: dict[str, list] = {}
        for method in results["methods"]:
            runs = [r for r in results["runs"] if r["game"] == game and r["method"] == method]
            runs.sort(key=lambda r: results["seeds"].index(r["seed"]))
            curves[method] = [_read_jsonl(run_dir / r["dir"] / "metrics.jsonl") for r in runs]
        plot_curves(ax, curves, f"{game} ({mode}, {end - first} levels)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def per_level(entry: dict[str, Any], first_level: int) -> dict[int, float]:
    """``{level: mean return}`` from an eval entry (lists indexed from ``first_level``, or with
    an explicit ``levels`` list as EnvPool evaluations write)."""
    levels = entry.get("levels", range(first_level, first_level + len(entry["return"])))
    return {int(v): float(r) for v, r in zip(levels, entry["return"], strict=True)}


def heatmap_table(
    ev: dict[str, Any], max_rows: int = 16
) -> tuple[list[int], list[str], np.ndarray]:
    """``(levels, columns, values [levels, columns])`` for one (game, seed) eval record.

    Rows: the specialists' levels (E_low), or, without specialists, the ``max_rows`` training
    levels on which the first policy did worst. Columns: ``phase I``, ``specialist``, ``GSL``,
    ``PPO`` as available. Missing cells are NaN.
    """
    first = ev["train_levels"][0]
    pol = {name: per_level(p["train"], first) for name, p in ev["policies"].items()}
    spec = ev.get("specialists")
    if spec:
        levels = [int(v) for v in spec["levels"]][:max_rows]
    else:
        name = next(iter(pol))
        levels = sorted(pol[name], key=lambda v: pol[name][v])[:max_rows]
    columns, cols = [], []
    names = {"phase1": "phase-I generalist", "gsl": "GSL final", "ppo": "PPO final"}
    for key in ("phase1", "specialist", "gsl", "ppo"):
        if key == "specialist":
            if spec:
                table = dict(zip(spec["levels"], spec["return"], strict=True))
                columns.append("specialist")
                cols.append([table.get(v, math.nan) for v in levels])
        elif key in pol:
            columns.append(names[key])
            cols.append([pol[key].get(v, math.nan) for v in levels])
    return levels, columns, np.asarray(cols, np.float64).T


def plot_level_heatmap(run_dir: str | Path, results: dict[str, Any], path: Path) -> Path:
    """``level_heatmap.png`` (see the module docstring)."""
    plt = _plt()
    run_dir = Path(run_dir)
    entries = [e for e in results["evaluations"] if (run_dir / e["path"]).exists()][:6]
    if not entries:
        raise FileNotFoundError(f"run_dir: {run_dir} has no evaluation (eval.json)")
    fig, axes = plt.subplots(1, len(entries), figsize=(3.6 * len(entries), 5.2), squeeze=False)
    for ax, entry in zip(axes[0], entries, strict=True):
        game, seed = entry["game"], entry["seed"]
        ev = json.loads((run_dir / entry["path"]).read_text())
        levels, columns, values = heatmap_table(ev)
        im = ax.imshow(values, aspect="auto", cmap="viridis", vmin=np.nanmin([0, *values.flat]))
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(
                    j,
                    i,
                    f"{v:.1f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="w" if v < np.nanmean(values) else "k",
                )
        ax.set_xticks(range(len(columns)), columns, rotation=35, ha="right", fontsize=7)
        ax.set_yticks(range(len(levels)), [str(v) for v in levels], fontsize=7)
        ax.set_ylabel("training level")
        ax.set_title(f"{game} seed {seed}: return per level", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.05)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_scores(results: dict[str, Any], path: Path) -> Path:
    """``scores.png`` (see the module docstring)."""
    plt = _plt()
    methods, games, seeds = results["methods"], results["games"], results["seeds"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.8 / (2 * len(methods))
    for gi, game in enumerate(games):
        for mi, method in enumerate(methods):
            for si, split in enumerate(("train", "heldout")):
                vals = [
                    r[split]["normalized"]
                    for r in results["runs"]
                    if r["game"] == game and r["method"] == method
                ]
                x = gi + (2 * mi + si - len(methods) + 0.5) * width
                ax1.bar(
                    x,
                    np.mean(vals),
                    width * 0.9,
                    color=COLORS.get(method),
                    alpha=0.45 if split == "train" else 0.9,
                    label=f"{method.upper()} {split}" if gi == 0 else None,
                )
                ax1.plot([x] * len(vals), vals, "k.", ms=3)
    ax1.set_xticks(range(len(games)), games)
    ax1.axhline(0, color="0.5", lw=0.6)
    ax1.set_ylabel("Procgen-normalised score")
    ax1.set_title("per game (bars: mean over seeds, dots: seeds)")
    ax1.legend(fontsize=7)
    names = ("iqm", "mean", "optimality_gap")
    for mi, method in enumerate(methods):
        agg = results["aggregates"][method]["heldout"]
        for ni, name in enumerate(names):
            y = ni + (mi - (len(methods) - 1) / 2) * 0.25
            point, (low, high) = agg[name]["point"], agg[name]["ci"]
            ax2.errorbar(
                point,
                y,
                xerr=[[point - low], [high - point]],
                fmt="o",
                color=COLORS.get(method),
                capsize=3,
                label=method.upper() if ni == 0 else None,
            )
    ax2.set_yticks(range(len(names)), ["IQM", "mean", "optimality gap"])
    ax2.set_xlabel("held-out normalised score (95% stratified bootstrap CI)")
    n_runs = len(seeds) * len(games)
    ax2.set_title(f"aggregates over {len(games)} game(s) x {len(seeds)} seed(s) = {n_runs}")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(run_dir: str | Path, gif: bool = True, log=print) -> list[Path]:
    """(Re)draw every plot of a finished run, and the GIF unless ``gif=False``; returns the
    paths written. Raises ``FileNotFoundError`` naming ``run_dir`` if it holds no results."""
    run_dir = Path(run_dir)
    results = load_results(run_dir)
    out = [
        plot_learning_curves(run_dir, results, run_dir / CURVES_PNG),
        plot_level_heatmap(run_dir, results, run_dir / HEATMAP_PNG),
        plot_scores(results, run_dir / SCORES_PNG),
    ]
    if gif and results["gif"]:
        out.append(run_gif(run_dir, results, run_dir / GIF))
    return out
