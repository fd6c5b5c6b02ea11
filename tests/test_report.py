"""The benchmark report (gsl_jax.report): plots from a synthetic run directory, its helpers on
hand-made records, the GIF writer and the `gsl-jax report` subcommand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gsl_jax import report
from gsl_jax import scores as sc
from gsl_jax.cli import main as cli_main

GAMES, SEEDS, METHODS = ("coinrun", "maze"), (0, 1), ("ppo", "gsl")
N_TRAIN, N_HELD = 6, 3


def _gsl_records(seed: int) -> list[dict]:
    out, total = [], 0
    for phase, n, members in (
        ("generalist", 4, 1),
        ("specialists", 2, 2),
        ("generalist+dapg", 3, 1),
    ):
        for i in range(n):
            total += 100 * members
            out.append({"phase": phase, "total_steps": total, "return_mean": 5 + seed + i})
        if phase == "specialists":
            total += 37  # demo rollouts
    return out


def _write_run(run_dir: Path) -> dict:
    """A run directory in the documented schema (docs/run_directory.md), laid out differently
    from the Procgen experiment's on purpose: the report must follow the paths it is given."""
    runs, evaluations = [], []
    for game in GAMES:
        for seed in SEEDS:
            sub = run_dir / f"{game}-s{seed}"
            for method in METHODS:
                (sub / method).mkdir(parents=True)
                records = _gsl_records(seed)
                if method == "ppo":
                    records = [dict(r, phase="generalist") for r in records]
                (sub / method / "metrics.jsonl").write_text(
                    "".join(json.dumps(r) + "\n" for r in records)
                )
            per = lambda base: {  # noqa: E731
                "train": {"return": [base + i for i in range(N_TRAIN)], "success": [0.5] * N_TRAIN},
                "heldout": {"return": [base] * N_HELD, "success": [0.25] * N_HELD},
            }
            ev = {
                "train_levels": [0, N_TRAIN],
                "heldout_levels": [N_TRAIN, N_TRAIN + N_HELD],
                "episodes": 2,
                "policies": {"phase1": per(1.0), "gsl": per(3.0), "ppo": per(2.0)},
                "specialists": {
                    "levels": [4, 1],
                    "subsets": [[4], [1]],
                    "return": [9.0, 8.0],
                    "success": [1.0, 0.8],
                    "chunks_trained": 2,
                },
            }
            (sub / "levels.json").write_text(json.dumps(ev))
            evaluations.append({"game": game, "seed": seed, "path": f"{game}-s{seed}/levels.json"})
            for method, base in (("ppo", 6.0), ("gsl", 7.0)):
                ret = base + seed
                row = {"game": game, "seed": seed, "method": method, "total_steps": 1200}
                row["dir"] = f"{game}-s{seed}/{method}"
                for split in ("train", "heldout"):
                    row[split] = {
                        "return": ret,
                        "success": 0.5,
                        "normalized": float(sc.normalize_score(ret, game)),
                    }
                runs.append(row)
    aggregates = {
        m: {
            split: sc.aggregate(sc.score_matrix(runs, m, split)[0], reps=50)
            for split in ("train", "heldout")
        }
        for m in METHODS
    }
    results = {
        "games": list(GAMES),
        "seeds": list(SEEDS),
        "methods": list(METHODS),
        "backend": "jax",
        "distribution_mode": "easy",
        "train_levels": [0, N_TRAIN],
        "heldout_levels": [N_TRAIN, N_TRAIN + N_HELD],
        "runs": runs,
        "evaluations": evaluations,
        "aggregates": aggregates,
        "gif": None,
    }
    (run_dir / "results.json").write_text(json.dumps(results))
    return results


def test_write_report_draws_every_plot_from_a_synthetic_run(tmp_path):
    _write_run(tmp_path)
    paths = report.write_report(tmp_path, gif=False)
    names = [p.name for p in paths]
    assert names == [report.CURVES_PNG, report.HEATMAP_PNG, report.SCORES_PNG]
    for path in paths:
        with Image.open(path) as img:
            assert img.format == "PNG"
            assert img.size[0] >= 400 and img.size[1] >= 300
            # not a blank canvas: the plot has many distinct colours
            assert len(img.convert("RGB").getcolors(1 << 20)) > 50


def test_report_subcommand_redraws_the_plots(tmp_path, capsys):
    _write_run(tmp_path)
    cli_main(["report", str(tmp_path), "--no-gif"])
    out = capsys.readouterr().out
    assert out.count("wrote ") == 3
    assert (tmp_path / report.SCORES_PNG).exists()


def test_report_of_a_directory_without_results_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="run_dir"):
        report.write_report(tmp_path)
    with pytest.raises(SystemExit, match="results.json"):
        cli_main(["report", str(tmp_path)])


def test_results_without_a_schema_key_are_refused_naming_it(tmp_path):
    results = _write_run(tmp_path)
    del results["evaluations"]
    (tmp_path / "results.json").write_text(json.dumps(results))
    with pytest.raises(ValueError, match="lacks 'evaluations'"):
        report.write_report(tmp_path, gif=False)


def test_results_keys_are_the_documented_ones():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "run_directory.md").read_text()
    for key in report.RESULTS_KEYS:
        assert f"`{key}`" in doc, key


def test_phase_boundaries_sit_at_the_end_of_each_phase():
    records = _gsl_records(0)
    # generalist ends at 400; specialists (2 x 200) end at 800; phase II starts after demos
    assert report.phase_boundaries(records) == [(400.0, "specialists"), (800.0, "generalist+dapg")]


def test_heatmap_table_rows_are_the_specialists_levels():
    ev = {
        "train_levels": [0, 4],
        "policies": {
            "phase1": {"train": {"return": [1.0, 2.0, 3.0, 4.0]}},
            "gsl": {"train": {"return": [5.0, 6.0, 7.0, 8.0]}},
        },
        "specialists": {"levels": [3, 0], "return": [9.0, 10.0]},
    }
    levels, columns, values = report.heatmap_table(ev)
    assert levels == [3, 0]
    assert columns == ["phase-I generalist", "specialist", "GSL final"]
    assert values.tolist() == [[4.0, 9.0, 8.0], [1.0, 10.0, 5.0]]
    # without specialists: the lowest training levels of the first policy, explicit level ids
    ev2 = {
        "train_levels": [0, 4],
        "policies": {"ppo": {"train": {"levels": [7, 2, 5], "return": [3.0, 1.0, 2.0]}}},
    }
    levels, columns, values = report.heatmap_table(ev2, max_rows=2)
    assert levels == [2, 5] and columns == ["PPO final"] and values.tolist() == [[1.0], [2.0]]


def test_smooth_is_a_trailing_mean_that_skips_nan():
    out = report.smooth([1.0, 3.0, math.nan, 5.0, 7.0], window=2)
    assert out[0] == 1.0 and out[1] == 2.0 and math.isnan(out[2])
    assert out[3] == 5.0 and out[4] == 6.0


def test_save_gif_tiles_levels_and_scales(tmp_path):
    frames = np.zeros((4, 2, 8, 8, 3), np.uint8)
    frames[:, 0, :, :, 0] = 200  # level 0 red
    frames[:, 1, :, :, 2] = np.arange(4)[:, None, None] * 60  # level 1 brightens over time
    path = report.save_gif(frames, tmp_path / "a.gif", scale=3)
    with Image.open(path) as img:
        assert img.n_frames == 4
        assert img.size == ((8 + 2 + 8) * 3, 8 * 3)
        img.seek(3)
        rgb = np.asarray(img.convert("RGB"))
    assert rgb[0, 0].tolist() == [200, 0, 0]
    assert rgb[0, -1].tolist() == [0, 0, 180]
    with pytest.raises(ValueError, match="frames"):
        report.save_gif(np.zeros((3, 8, 8)), tmp_path / "b.gif")
