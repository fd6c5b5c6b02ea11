"""Settings of the Procgen experiment (gsl_jax.experiments.procgen.settings and presets): the
presets' budget split, overrides by command-line name and by path, every field checked for type,
finiteness and range with the field named before anything compiles, and the saved JSON (this
version's and version 1's)."""

from __future__ import annotations

import json

import pytest
from benchmark_scripts import load_script

from gsl_jax.envs.procgen import GAMES
from gsl_jax.experiments import procgen as exp
from gsl_jax.experiments.procgen.results import prepare_run_dir


def test_quick_preset_budget_is_split_into_every_gsl_phase():
    s = exp.PRESETS["quick"]
    config = exp.gsl_config(s, 0)
    chunk = exp.chunk_steps(s)
    assert chunk == 3 * 64 * 128
    # phase I: 3.3M * 0.45 = 1,485,000 rounded up to 61 chunks; a specialist: 3.3M * 0.3 / 4 =
    # 247,500 -> 11 chunks; phase II: the rest, 3.3M - 1,499,136 - 4 * 270,336 = 719,520 -> 30
    assert config.plateau.max_steps == 61 * chunk and config.plateau.min_steps == 1_124_352
    assert config.specialist_steps == 11 * chunk and config.phase2_steps == 30 * chunk
    assert config.num_train_variations == 200 and s.heldout_levels == 100
    assert config.plateau.max_steps % chunk == 0 and config.phase2_steps % chunk == 0
    spent = config.plateau.max_steps + config.num_specialists * config.specialist_steps
    spent += config.phase2_steps
    # within one chunk per phase of the budget
    assert abs(spent - s.steps) <= (2 + config.num_specialists) * chunk
    assert config.network.kind == "mlp" and s.obs_mode == "symbolic"
    paper = exp.PRESETS["paper"]
    assert paper.obs_mode == "pixels" and paper.gsl.network.kind == "impala"
    assert paper.steps == 25_000_000
    assert paper.games == tuple(GAMES)  # every JAX port


def test_study_preset_caps_gsl_at_the_plateau_maps_budget():
    """The study (docs/gsl_protocol.md): B = 244 chunks of 40,960 = 9,994,240 env-steps, GSL
    capped at B with phase II bounded by B less the specialists' 30%; quick's learner."""
    s = exp.PRESETS["study"]
    config = exp.gsl_config(s, 0)
    chunk = exp.chunk_steps(s)
    assert s.steps == 244 * 40_960 == 9_994_240 and s.steps % (64 * 128) == 0
    assert config.total_steps == 9_994_240 and s.fixed_budget
    # a specialist: 9,994,240 * 0.3 / 4 = 749,568 -> 31 chunks of 24,576 = 761,856
    assert config.specialist_steps == 31 * chunk
    # phase II's bound: 9,994,240 - 4 x 761,856 = 6,946,816, rounded up to 283 chunks
    assert config.phase2_steps == 283 * chunk and 282 * chunk < 6_946_816 < 283 * chunk
    assert s.heldout_levels == 500 and s.final_eval_episodes == 4
    assert config.ppo == exp.PRESETS["quick"].gsl.ppo
    assert config.network == exp.PRESETS["quick"].gsl.network
    # the quick preset is uncapped; --fixed-budget caps it at its own steps
    assert exp.gsl_config(exp.PRESETS["quick"], 0).total_steps is None
    capped = exp.resolve_settings("quick", _cli_overrides(["--fixed-budget"]))
    assert exp.gsl_config(capped, 0).total_steps == 3_300_000
    with pytest.raises(ValueError, match="fixed_budget: expected bool"):
        exp.resolve_settings("quick", {"fixed_budget": 1})


def test_ppo_trains_b_exactly_under_a_fixed_budget_and_gsls_total_otherwise():
    """The study's PPO trains B = 9,994,240 = 1,220 updates of 8,192 (not GSL's 9,979,834
    rounded up to 407 chunks of 24,576 = 10,002,432, one update above B); quick's PPO matches
    GSL's total rounded up to whole chunks of 3 x 8,192 = 24,576."""
    from gsl_jax.experiments.procgen.runs import ppo_budget

    study, quick = exp.PRESETS["study"], exp.PRESETS["quick"]
    assert ppo_budget(study, 9_979_834) == 9_994_240 == 1_220 * 8_192
    assert exp.chunk_steps(quick) == 24_576
    assert ppo_budget(quick, 3_279_000) == 134 * 24_576 == 3_293_184  # 133.4 chunks
    assert ppo_budget(quick, 134 * 24_576) == 3_293_184
    with pytest.raises(ValueError, match="gsl.total_steps: set by the experiment"):
        exp.resolve_settings("quick", {"gsl.total_steps": 5})


def test_quick_preset_weights_the_demo_term_by_its_measured_coefficient():
    """quick's DAPG weight is 0.1 (docs/benchmarks.md section 6: the released 0.5 held the
    generalist's phase II below plain PPO's); paper keeps the released 0.5; --demo-coeff sets it."""
    assert exp.gsl_config(exp.PRESETS["quick"], 0).dapg.demo_coeff == 0.1
    assert exp.gsl_config(exp.PRESETS["paper"], 0).dapg.demo_coeff == 0.5
    s = exp.resolve_settings("quick", {"demo_coeff": 0.3})
    assert exp.gsl_config(s, 0).dapg.demo_coeff == 0.3
    with pytest.raises(ValueError, match="demo_coeff"):
        exp.resolve_settings("quick", {"demo_coeff": -1.0})


def test_command_line_names_and_paths_set_the_nested_configs():
    s = exp.resolve_settings(
        "quick",
        {"learning_rate": 1e-3, "demo_episodes": 7, "gsl.ppo.ent_coef": 0.02, "seeds": [3]},
    )
    assert s.gsl.ppo.learning_rate == 1e-3 and s.gsl.ppo.ent_coef == 0.02
    assert s.gsl.specialist_demo_episodes == 7 and s.gsl.generalist_demo_episodes == 7
    assert s.seeds == (3,) and exp.gsl_config(s, 3).seed == 3
    # everything else is the preset's
    quick = exp.PRESETS["quick"].gsl
    assert s.gsl.ppo.num_envs == quick.ppo.num_envs and s.gsl.network == quick.network
    # the same options through the command line
    args = ["--learning-rate", "1e-3", "--demo-episodes", "7", "--seeds", "3"]
    args += ["--set", "gsl.ppo.ent_coef=0.02"]
    assert exp.resolve_settings("quick", _cli_overrides(args)) == s


def _cli_overrides(argv: list[str]) -> dict:
    module = load_script("procgen_gsl")
    return module._overrides(module.build_parser().parse_args(argv))


def test_a_changed_step_budget_re_derives_every_phase():
    s = exp.resolve_settings("custom", {"steps": 1_000_000, "num_envs": 32})
    chunk = 3 * 32 * 128
    assert exp.chunk_steps(s) == chunk
    # phase I: 450,000 -> 37 chunks = 454,656; a specialist 75,000 -> 7 chunks = 86,016;
    # phase II 1M - 454,656 - 4 * 86,016 = 201,280 -> 17 chunks = 208,896
    assert s.gsl.plateau.max_steps == 454_656 and s.gsl.specialist_steps == 86_016
    assert s.gsl.phase2_steps == 208_896 and s.gsl.num_train_variations == 200


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"gsl.ppo.no_such": 1}, "gsl.ppo.no_such: not an option"),
        ({"learning_rte": 1e-3}, "learning_rte: not an option"),
        ({"gsl.phase2_steps": 100}, "gsl.phase2_steps: set by the experiment"),
        ({"gsl.plateau.max_steps": 100}, "gsl.plateau.max_steps: set by the experiment"),
        ({"gsl.ppo": 3}, "gsl.ppo: a group of options"),
        ({"gsl.num_specialists": "four"}, "gsl.num_specialists: expected int, got 'four'"),
        ({"num_envs": 8.5}, "num_envs: expected int"),
        ({"gsl.ppo.normalize_rewards": 1}, "gsl.ppo.normalize_rewards: expected bool"),
        ({"seeds": [0, -1]}, "seeds"),
        ({"seeds": [True]}, "seeds"),
        ({"final_eval_episodes": 0}, "final_eval_episodes: must be a positive integer"),
        ({"num_levels": 2.5}, "num_levels: expected int"),
        ({"heldout_levels": -3}, "heldout_levels"),
        ({"gif_levels": 101}, "gif_levels"),
        ({"phase1_fraction": float("nan")}, "phase1_fraction"),
        ({"specialist_fraction": 0.6}, "specialist_fraction: phase I and the specialists"),
        ({"methods": ["ppo", "sac"]}, "methods"),
        ({"distribution_mode": "extreme"}, "distribution_mode"),
        ({"gsl.ppo.learning_rate": -1.0}, "learning_rate"),
    ],
)
def test_bad_settings_name_the_field_before_anything_compiles(overrides, match):
    with pytest.raises(ValueError, match=match):
        exp.resolve_settings("custom", overrides)


def test_settings_built_directly_check_their_own_fields():
    with pytest.raises(ValueError, match="num_levels: must be an integer, got 2.5"):
        exp.Settings(num_levels=2.5)
    with pytest.raises(ValueError, match="games: expected a list"):
        exp.Settings(games="coinrun")
    with pytest.raises(ValueError, match="gsl: must be a GSLConfig"):
        exp.Settings(gsl={"num_low": 3})


_NAN, _INF = float("nan"), float("inf")
_COUNTS = ("num_levels", "heldout_levels", "steps", "final_eval_episodes", "gif_steps")
#: (field, bad value, expected message) for each numeric field of the experiment's own settings:
#: NaN, inf, negative, zero, a fraction, a bool and a string where a number belongs.
_BAD_FIELDS = [
    *[
        (name, value, f"{name}: must be {what}")
        for name in (*_COUNTS, "checkpoint_every", "timeout")
        for value, what in [
            (_NAN, "an integer"),
            (_INF, "an integer"),
            (-1, "a positive integer"),
            (0, "a positive integer"),
            (2.5, "an integer"),
            (True, "an integer"),
            ("3", "an integer"),
        ]
    ],
    *[
        (name, value, f"{name}: must {what}")
        for name in ("phase1_fraction", "specialist_fraction")
        for value, what in [
            (_NAN, "be a finite number"),
            (_INF, "be a finite number"),
            (-0.1, "lie in \\(0, 1\\)"),
            (0.0, "lie in \\(0, 1\\)"),
            (1, "lie in \\(0, 1\\)"),
            (True, "be a finite number"),
            ("0.3", "be a finite number"),
        ]
    ],
    ("gif_levels", -1, "gif_levels: must lie in \\[0, 100\\]"),
    ("gif_levels", 101, "gif_levels: must lie in \\[0, 100\\]"),
    ("gif_levels", _NAN, "gif_levels: must be an integer"),
    ("gif_levels", False, "gif_levels: must be an integer"),
    ("seeds", (_NAN,), "seeds\\[0\\]: must be an integer"),
    ("seeds", (0, -1), "seeds\\[1\\]: must be >= 0"),
    ("seeds", (2**31,), "seeds\\[0\\]: must be < 2\\*\\*31"),
    ("seeds", (True,), "seeds\\[0\\]: must be an integer"),
    ("seeds", ("0",), "seeds\\[0\\]: must be an integer"),
    ("seeds", (), "seeds: give at least one"),
    ("games", (3,), "games\\[0\\]: must be a str"),
    ("methods", ("ppo", "sac"), "methods\\[1\\]: must be one of 'ppo', 'gsl'"),
    ("backend", "torch", "backend: must be one of 'jax', 'envpool'"),
    ("distribution_mode", None, "distribution_mode: must be one of"),
]


@pytest.mark.parametrize(
    ("field", "value", "match"), _BAD_FIELDS, ids=[f"{f}={v!r}" for f, v, _ in _BAD_FIELDS]
)
def test_each_numeric_setting_is_checked_for_type_finiteness_and_range(field, value, match):
    with pytest.raises(ValueError, match=f"^{match}"):
        exp.Settings(**{field: value})


@pytest.mark.parametrize("preset", ["quick", "paper", "tiny", "study"])
def test_settings_round_trip_through_json(preset):
    s = exp.PRESETS[preset]
    assert exp.Settings.from_dict(json.loads(json.dumps(s.to_dict()))) == s


def test_saved_settings_of_version_one_load_as_the_same_experiment():
    """experiment.json as the first (flat) benchmark script wrote it for the tiny preset."""
    flat = {
        "games": ["maze"], "seeds": [0], "methods": ["ppo", "gsl"], "backend": "jax",
        "distribution_mode": "easy", "obs_mode": "symbolic", "network": "mlp", "hidden": [16],
        "num_levels": 8, "heldout_levels": 4, "steps": 1536, "phase1_fraction": 0.34,
        "specialist_fraction": 0.34, "num_envs": 16, "num_steps": 16, "num_minibatches": 2,
        "update_epochs": 1, "learning_rate": 0.0005, "gamma": 0.99, "updates_per_chunk": 1,
        "num_specialists": 1, "num_low": 2, "eval_episodes": 1, "final_eval_episodes": 1,
        "demo_episodes": 4, "demo_steps": 32, "demo_coeff": 0.1, "gif_levels": 2, "gif_steps": 12,
        "checkpoint_every": 4, "timeout": 40,
    }  # fmt: skip
    assert exp.Settings.from_dict(flat) == exp.PRESETS["tiny"]
    with pytest.raises(ValueError, match="settings.num_workers: not a field"):
        exp.Settings.from_dict({**flat, "num_workers": 2})


def test_a_saved_experiment_this_version_cannot_read_is_refused_naming_the_field(tmp_path):
    saved = {"kind": exp.EXPERIMENT_KIND, "settings": {**exp.PRESETS["tiny"].to_dict()}}
    saved["settings"]["gsl"]["ppo"]["new_knob"] = 1
    (tmp_path / "experiment.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="new_knob"):
        prepare_run_dir(tmp_path, exp.PRESETS["tiny"], resume=True)
    # a version-1 experiment.json of the same settings is resumable
    flat = {"kind": "gsl_jax.benchmarks.procgen_gsl", "version": 1, "settings": {"steps": 1536}}
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "experiment.json").write_text(json.dumps(flat))
    given = exp.resolve_settings("custom", {"steps": 1536})
    assert prepare_run_dir(legacy, given, resume=True) is False
