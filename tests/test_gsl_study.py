"""The GSL study's machinery (gsl_jax.experiments.procgen.study, benchmarks/gsl_study.py): the
protocol's choice of settings from the plateau map, every variant as a valid experiment, and the
tables read from results files written here by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from benchmark_scripts import load_script

from gsl_jax.experiments.procgen import study
from gsl_jax.experiments.procgen.presets import STUDY_BUDGET
from gsl_jax.experiments.procgen.study import StudySetting, choose_settings

GAMES = ["g1", "g2", "g3", "g4"]


def _row(game, levels, final, gain, mode="easy", steps=10_000_000):
    plateau = gain < 0.03 and final < 0.85
    return dict(game=game, mode=mode, levels=levels, steps=steps, final=final, late_gain=gain,
                plateau_setting=plateau)  # fmt: skip


def test_settings_take_each_games_lowest_plateau_setting():
    rows = [
        _row("g1", 200, 0.30, 0.01),
        _row("g1", 1000, 0.20, 0.02),  # lower final: chosen
        _row("g2", 200, 0.50, 0.02),
        _row("g2", 1000, 0.50, 0.01),  # tie on final: 200 levels
        _row("g3", 200, 0.40, 0.00),
        _row("g3", 1000, 0.10, 0.00, mode="hard"),  # amendment 1: hard is not a study mode
        _row("g4", 200, 0.90, 0.01),  # final above 0.85: no plateau setting
        _row("g4", 1000, 0.60, 0.05),  # still climbing: none
    ]
    chosen = choose_settings(rows, GAMES)
    assert [(s.game, s.levels) for s in chosen] == [("g1", 1000), ("g2", 200), ("g3", 200)]
    assert all(s.plateau for s in chosen)
    # B: 10M rounded down to whole updates of 8,192 env-steps
    assert chosen[0].budget == 1220 * 8192 == 9_994_240 == STUDY_BUDGET
    assert chosen[0].label == "g1_easy_1000"


def test_settings_filled_up_to_three_games_by_the_smallest_late_gain():
    rows = [
        _row("g1", 200, 0.30, 0.01),
        _row("g1", 1000, 0.30, 0.02),
        _row("g2", 200, 0.95, 0.01),  # no plateau setting: fill-in candidate, gain 0.01
        _row("g2", 1000, 0.70, 0.08),
        _row("g3", 200, 0.60, 0.06),
        _row("g3", 1000, 0.60, 0.04),  # g3's smallest gain: 0.04
        _row("g4", 200, 0.60, 0.09),
        _row("g4", 1000, 0.60, 0.10),
    ]
    chosen = choose_settings(rows, GAMES)
    assert [(s.game, s.levels, s.plateau) for s in chosen] == [
        ("g1", 200, True),
        ("g2", 200, False),
        ("g3", 1000, False),
    ]


def test_settings_wait_for_the_whole_map():
    rows = [_row("g1", 200, 0.3, 0.01), _row("g2", 200, 0.3, 0.01)]
    with pytest.raises(ValueError, match="no rows for g3 easy, g4 easy"):
        choose_settings(rows, GAMES)


SETTING = StudySetting("bigfish", "easy", 200, STUDY_BUDGET, True, 0.104, 0.021)


@pytest.mark.parametrize("variant", sorted(study.VARIANTS))
def test_every_variant_is_a_valid_experiment(variant):
    s = study.stage_settings("tune", variant, SETTING)
    assert s.games == ("bigfish",) and s.num_levels == 200 and s.seeds == (0, 1, 2)
    assert study.VARIANTS[variant].method in s.methods
    assert s.steps == STUDY_BUDGET and s.fixed_budget and s.gsl.total_steps == STUDY_BUDGET
    assert s.final_eval_episodes == 4
    if study.VARIANTS[variant].method == "gsl":
        final = study.stage_settings("final", variant, SETTING, ppo_variant="ppo-ent0.02")
        assert final.seeds == (100, 101, 102, 103, 104) and final.heldout_levels == 500
        assert final.final_eval_episodes == 2 and final.gsl.ppo.ent_coef == 0.02


def test_ppo_gets_as_many_variants_as_gsl():
    """Protocol section 4 and amendment 1.4: PPO's tuning effort equals GSL's."""
    methods = [v.method for v in study.VARIANTS.values()]
    assert methods.count("ppo") == methods.count("gsl") == 5


def test_the_dapg_schedule_variant_is_original_dapgs():
    """gsl-dapg-decay: log pi and normalised max advantage (as gsl), lambda_0 = 1.0 and
    lambda_1 = 0.95; ppo-minibatches4: minibatches of 8,192 / 4 = 2,048 rows."""
    dapg = study.stage_settings("tune", "gsl-dapg-decay", SETTING).gsl.dapg
    assert dapg.use_log_prob and dapg.normalized_max_advantage
    assert (dapg.demo_coeff, dapg.decay) == (1.0, 0.95)
    mb = study.stage_settings("tune", "ppo-minibatches4", SETTING).gsl.ppo
    assert mb.num_minibatches == 4 and mb.batch_size // mb.num_minibatches == 2_048


def test_gsl_variants_take_over_the_gsl_variants_phase_one(tmp_path, monkeypatch):
    base = study.stage_dir(tmp_path, "tune", "gsl", SETTING)
    for variant in ("gsl-released", "gsl-pop64", "gsl-cycles3", "gsl-dapg-decay"):
        assert study.branch_source(tmp_path, "tune", variant, SETTING) == base
    for variant in ("gsl", "ppo", "ppo-ent0.02"):
        assert study.branch_source(tmp_path, "tune", variant, SETTING) is None
    assert study.branch_source(tmp_path, "final", "gsl-pop64", SETTING) is None
    # a variant whose phase I differs (another H window) trains its own
    window = study.Variant("gsl", {"gsl.plateau.window": 9}, "H over 9 chunks")
    monkeypatch.setitem(study.VARIANTS, "gsl-window9", window)
    assert study.branch_source(tmp_path, "tune", "gsl-window9", SETTING) is None


def test_stage_settings_refuse_bad_input():
    with pytest.raises(ValueError, match="stage: 'test'"):
        study.stage_settings("test", "gsl", SETTING)
    with pytest.raises(ValueError, match="variant: unknown variant 'gsl-best'"):
        study.stage_settings("tune", "gsl-best", SETTING)
    with pytest.raises(ValueError, match="ppo_variant: 'gsl' is a gsl variant"):
        study.stage_settings("final", "gsl", SETTING, ppo_variant="gsl")
    other = StudySetting("bigfish", "easy", 200, 5_000_000, True, 0.1, 0.0)
    with pytest.raises(ValueError, match="budget: bigfish_easy_200's B = 5,000,000"):
        study.stage_settings("tune", "ppo", other)


def _write_results(run_dir: Path, game: str, scores: dict[str, dict[int, tuple]]) -> None:
    """A results.json with the fields the study reads: per method and seed (train, held-out)."""
    run_dir.mkdir(parents=True)
    runs = [
        {"game": game, "seed": seed, "method": method,
         "train": {"normalized": tr}, "heldout": {"normalized": ho}}
        for method, per_seed in scores.items()
        for seed, (tr, ho) in per_seed.items()
    ]  # fmt: skip
    (run_dir / "results.json").write_text(json.dumps({"runs": runs}))


def test_paired_and_final_experiments_run_both_methods(tmp_path):
    """The ppo variant's tuning runs are the PPO half of the gsl variant's experiment; a final
    experiment is always a pair; other variants run alone."""
    pair = study.stage_settings("tune", "ppo", SETTING)
    assert pair == study.stage_settings("tune", "gsl", SETTING)
    assert pair.methods == ("ppo", "gsl")
    same = study.stage_dir(tmp_path, "tune", "ppo", SETTING)
    assert same == study.stage_dir(tmp_path, "tune", "gsl", SETTING)
    assert same == tmp_path / "tune" / "gsl" / "bigfish_easy_200"
    assert study.stage_settings("tune", "gsl-pop64", SETTING).methods == ("gsl",)
    assert study.stage_settings("tune", "ppo-ent0.02", SETTING).methods == ("ppo",)
    final = study.stage_settings("final", "gsl-pop64", SETTING, "ppo-epochs1")
    assert final.methods == ("ppo", "gsl") and final.gsl.ppo.update_epochs == 1
    assert final.gsl.num_specialists == 64
    where = study.stage_dir(tmp_path, "final", "gsl-pop64", SETTING, "ppo-epochs1")
    assert where == tmp_path / "final" / "gsl-pop64+ppo-epochs1" / "bigfish_easy_200"
    with pytest.raises(ValueError, match="variant: 'ppo' is a ppo variant"):
        study.stage_settings("final", "ppo", SETTING)


def test_tuning_table_reads_training_levels_only(tmp_path):
    a = StudySetting("bigfish", "easy", 200, STUDY_BUDGET, True, 0.1, 0.0)
    b = StudySetting("chaser", "easy", 1000, STUDY_BUDGET, True, 0.2, 0.0)
    never_read = 99.0  # held-out scores
    # the gsl/ppo pair: GSL complete on both settings, PPO missing a seed on chaser
    gsl_train = {a: (0.1, 0.2, 0.3), b: (0.4, 0.5, 0.9)}
    ppo_train = {a: (0.3, 0.3, 0.6), b: (0.3, 0.3)}
    for s in (a, b):
        scores = {
            "gsl": {seed: (t, never_read) for seed, t in zip((0, 1, 2), gsl_train[s], strict=True)},
            "ppo": {
                seed: (t, never_read) for seed, t in zip((0, 1), ppo_train[s][:2], strict=True)
            },
        }
        if s is a:
            scores["ppo"][2] = (ppo_train[a][2], never_read)
        _write_results(study.stage_dir(tmp_path, "tune", "gsl", s), s.game, scores)
    _write_results(study.stage_dir(tmp_path, "tune", "ppo-ent0.02", a), a.game,
                   {"ppo": {0: (0.5, 1.0), 1: (0.5, 1.0), 2: (0.8, 1.0)}})  # fmt: skip
    rows = {r["variant"]: r for r in study.tuning_table(tmp_path, [a, b])}
    assert set(rows) == {"gsl", "ppo", "ppo-ent0.02"}  # variants without results left out
    assert rows["gsl"]["bigfish_easy_200"] == pytest.approx(0.2)
    assert rows["gsl"]["chaser_easy_1000"] == pytest.approx(0.6)
    assert rows["gsl"]["mean"] == pytest.approx(0.4)
    assert rows["ppo"]["bigfish_easy_200"] == pytest.approx(0.4)
    assert rows["ppo"]["chaser_easy_1000"] is None and rows["ppo"]["mean"] is None
    assert rows["ppo-ent0.02"]["bigfish_easy_200"] == pytest.approx(0.6)
    assert rows["ppo-ent0.02"]["chaser_easy_1000"] is None


def test_final_comparison_iqm_and_decision(tmp_path):
    settings = [
        StudySetting(g, "easy", 200, STUDY_BUDGET, True, 0.1, 0.0)
        for g in ("bigfish", "chaser", "maze")
    ]
    gsl_scores = np.arange(15, dtype=float).reshape(5, 3) / 100 + 0.5  # 0.50 .. 0.64
    ppo_scores = np.arange(15, dtype=float).reshape(5, 3) / 100 + 0.1  # 0.10 .. 0.24
    chosen = {"ppo": "ppo", "gsl": "gsl"}

    def write(root, gsl_m, ppo_m):
        for j, s in enumerate(settings):
            scores = {
                method: {seed: (0.0, m[i, j]) for i, seed in enumerate(study.FINAL_SEEDS)}
                for method, m in (("gsl", gsl_m), ("ppo", ppo_m))
            }
            _write_results(study.stage_dir(root, "final", "gsl", s, "ppo"), s.game, scores)

    write(tmp_path, gsl_scores, ppo_scores)
    out = study.final_comparison(tmp_path, settings, chosen, reps=500)
    # IQM of 15 values: drop 3 at each end, the mean of the middle 9 (0.53 .. 0.61)
    assert out["methods"]["gsl"]["iqm"]["point"] == pytest.approx(0.57)
    assert out["methods"]["ppo"]["iqm"]["point"] == pytest.approx(0.17)
    # the mean of all 15 (0.50 .. 0.64) and the optimality gap 1 - mean beside it
    assert out["methods"]["gsl"]["mean"]["point"] == pytest.approx(0.57)
    assert out["methods"]["ppo"]["optimality_gap"]["point"] == pytest.approx(0.83)
    low, high = out["methods"]["gsl"]["iqm"]["ci"]
    assert 0.5 <= low <= 0.57 <= high <= 0.64
    assert out["decision"] == "GSL beats PPO"
    write(tmp_path / "swapped", ppo_scores, gsl_scores)
    swapped = study.final_comparison(tmp_path / "swapped", settings, chosen, reps=500)
    assert swapped["decision"] == "PPO beats GSL"
    write(tmp_path / "same", gsl_scores, gsl_scores)
    same = study.final_comparison(tmp_path / "same", settings, chosen, reps=500)
    assert same["decision"] == "no difference shown"
    missing = "no ppo \\(ppo\\) result for bigfish_easy_200, seed 100"
    with pytest.raises(ValueError, match=missing):
        study.final_comparison(tmp_path, settings, {"ppo": "ppo", "gsl": "gsl-pop64"}, reps=10)
    with pytest.raises(ValueError, match="final ppo: unknown variant ''"):
        study.final_comparison(tmp_path, settings, {"gsl": "gsl"}, reps=10)


def test_script_saves_the_settings_once(tmp_path):
    script = load_script("gsl_study")
    rows = [
        _row(g, n, 0.3, 0.01)
        for g in ("maze", "heist", "bigfish", "coinrun", "chaser", "leaper", "miner", "dodgeball")
        for n in (200, 1000)
    ]
    map_path, out = tmp_path / "map.json", tmp_path / "settings.json"
    map_path.write_text(json.dumps(rows))
    got = script.main(["settings", "--map", str(map_path), "--out", str(out)])
    assert len(got["settings"]) == 8 and out.exists()
    assert script.main(["settings", "--map", str(map_path), "--out", str(out)]) == got  # same: kept
    saved = out.read_text()
    rows[1]["final"] = 0.1  # another map: maze would now be taken at 1,000 levels
    map_path.write_text(json.dumps(rows))
    with pytest.raises(SystemExit, match="holds another choice of settings"):
        script.main(["settings", "--map", str(map_path), "--out", str(out)])
    assert out.read_text() == saved
    with pytest.raises(SystemExit, match="--setting: 'maze_easy_500' is not a study setting"):
        script.main(["run", "--stage", "tune", "--variant", "gsl", "--settings", str(out),
                     "--setting", "maze_easy_500", "--root", str(tmp_path / "runs")])  # fmt: skip
    with pytest.raises(SystemExit, match="does not exist; run `gsl_study.py settings` first"):
        script.main(["report", "--settings", str(tmp_path / "none.json")])
