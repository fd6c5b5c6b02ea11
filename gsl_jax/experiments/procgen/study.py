"""The GSL study of ``docs/gsl_protocol.md``: its settings (from the plateau map), its named
variants, its runs and its tables.

* :func:`choose_settings` applies the protocol's section 2 (and amendment 1) to the plateau map's
  rows (``docs/data/plateau_map/plateau_map.json``): a plateau setting per game where there is one
  (the lowest final; ties: 200 levels, then easy), filled up to three games by the smallest gain
  over the last 40% where there are fewer, and refuses a map that misses a (game, mode).
* :data:`VARIANTS` names every configuration the study tries, PPO's and GSL's, as overrides of
  the ``study`` preset (:data:`~gsl_jax.experiments.procgen.presets.PRESETS`).
* :func:`stage_settings` is one Procgen experiment: one (stage, variant, setting), its seeds
  the stage's (tuning: 0-2, training levels; final: 100-104, 500 held-out levels), run by
  :func:`~gsl_jax.experiments.procgen.runs.run_experiment` in :func:`stage_dir`.
* :func:`tuning_table` and :func:`final_comparison` read the experiments' ``results.json``:
  training-level scores only for tuning; for the final comparison the IQM of held-out scores with
  stratified bootstrap CIs (runs resampled within each setting) and the protocol's decision.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gsl_jax import scores as sc
from gsl_jax.experiments.procgen.presets import STUDY_BUDGET, resolve_settings
from gsl_jax.experiments.procgen.settings import Settings
from gsl_jax.gsl_branch import PHASE1_FIELDS

TUNING_SEEDS = (0, 1, 2)
FINAL_SEEDS = (100, 101, 102, 103, 104)
STAGES = ("tune", "final")
#: Amendment 1 of the protocol: the study's settings come from easy mode.
STUDY_MODES = ("easy",)
MIN_GAMES = 3
#: Evaluation of each stage: (episodes per level, held-out levels). Tuning reads training levels
#: only, so it evaluates a single held-out level (the experiment needs one) and never reports it.
STAGE_EVAL = {"tune": (4, 1), "final": (2, 500)}


@dataclass(frozen=True)
class StudySetting:
    """One (game, mode, training levels) of the study, as the plateau map measured it.

    Attributes:
        game, mode, levels: the setting.
        budget: B, total env-steps per run of either method.
        plateau: whether it is a plateau setting (else a fill-in, protocol section 2.3).
        final: the map's final seed-mean normalised return.
        late_gain: the map's gain over the last 40% of the run.
    """

    game: str
    mode: str
    levels: int
    budget: int
    plateau: bool
    final: float
    late_gain: float

    @property
    def label(self) -> str:
        """``"GAME_MODE_LEVELS"``, the setting's folder and its column in the tables."""
        return f"{self.game}_{self.mode}_{self.levels}"


def choose_settings(
    rows: Sequence[Mapping[str, Any]], games: Sequence[str], update_steps: int = 8192
) -> list[StudySetting]:
    """The study's settings from the plateau map's ``rows`` (protocol section 2, amendment 1).

    Args:
        rows: ``plateau_map.json``'s rows (``game, mode, levels, steps, final, late_gain,
            plateau_setting``).
        games: every game the map must cover (the registered ports), each in :data:`STUDY_MODES`.
        update_steps: env-steps of one PPO update; B is the map's run length rounded down to it.

    Returns:
        One setting per chosen game, in the order of ``games``.

    Raises:
        ValueError: naming the (game, mode) the map lacks.
    """
    missing = [
        f"{g} {m}"
        for g in games
        for m in STUDY_MODES
        if not any(r["game"] == g and r["mode"] == m for r in rows)
    ]
    if missing:
        raise ValueError(
            f"plateau map: no rows for {', '.join(missing)}; the study's settings are chosen "
            "once the map covers every game (benchmarks/plateau_map.py)"
        )

    def setting(r: Mapping[str, Any]) -> StudySetting:
        budget = (int(r["steps"]) // update_steps) * update_steps
        plateau = bool(r["plateau_setting"])
        final, gain = float(r["final"]), float(r["late_gain"])
        return StudySetting(r["game"], r["mode"], int(r["levels"]), budget, plateau, final, gain)

    candidates = [setting(r) for r in rows if r["game"] in games and r["mode"] in STUDY_MODES]

    def tie_break(s: StudySetting) -> tuple[int, int]:
        return (s.levels != 200, STUDY_MODES.index(s.mode))

    chosen: dict[str, StudySetting] = {}
    for game in games:
        found = [s for s in candidates if s.game == game and s.plateau]
        if found:
            chosen[game] = min(found, key=lambda s: (s.final, *tie_break(s)))
    if len(chosen) < MIN_GAMES:
        best_fill = {}
        for game in games:
            if game not in chosen:
                own = [s for s in candidates if s.game == game]
                best_fill[game] = min(own, key=lambda s: (s.late_gain, *tie_break(s)))
        fills = sorted(best_fill.values(), key=lambda s: s.late_gain)
        for s in fills[: MIN_GAMES - len(chosen)]:
            chosen[s.game] = s
    return [chosen[g] for g in games if g in chosen]


@dataclass(frozen=True)
class Variant:
    """A configuration the study tries: a method and its options.

    Attributes:
        method: ``"ppo"`` or ``"gsl"``.
        options: overrides of the ``study`` preset, by path or command-line name (e.g.
            ``{"gsl.dapg.use_log_prob": False}``); PPO's options are ``gsl.ppo.*``, which GSL's
            phases use too.
        note: what it is, for the tables.
    """

    method: str
    options: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""


#: Every variant of the study (protocol section 4): tried ones keep their place with their
#: result in docs/gsl_study.md, winners and losers alike.
VARIANTS: dict[str, Variant] = {
    "ppo": Variant("ppo", {}, "the plateau map's PPO (PROCGEN_COMPACT, MLP 64x64)"),
    "ppo-ent0.02": Variant("ppo", {"gsl.ppo.ent_coef": 0.02}, "entropy 0.02"),
    "ppo-epochs1": Variant("ppo", {"update_epochs": 1}, "1 epoch per update"),
    "ppo-lr2.5e-4": Variant("ppo", {"learning_rate": 2.5e-4}, "learning rate 2.5e-4"),
    # added with gsl-dapg-decay (amendment 2), to keep PPO's tuning effort equal to GSL's
    "ppo-minibatches4": Variant("ppo", {"num_minibatches": 4}, "4 minibatches of 2,048"),
    "gsl": Variant(
        "gsl", {}, "quick's GSL: 4 specialists on the 8 worst levels, log-prob DAPG 0.1"
    ),
    "gsl-released": Variant(
        "gsl",
        {
            "gsl.dapg.use_log_prob": False,
            "gsl.dapg.normalized_max_advantage": False,
            "demo_coeff": 0.5,
            "demo_freq": 4,
        },
        "the released DAPG: pi(a|s), raw max advantage, every 4th minibatch, 0.5",
    ),
    "gsl-pop64": Variant(
        "gsl",
        {
            "num_specialists": 64,
            "num_low": 64,
            "specialist_num_envs": 8,
            "specialist_steps_per_variation": 40_960,
        },
        "64 one-level specialists of 8 envs, 40,960 env-steps per level",
    ),
    "gsl-cycles3": Variant("gsl", {"max_cycles": 3}, "up to 3 specialist cycles"),
    # the weighting schedule of the original DAPG (Rajeswaran et al. 2017): lambda_0 = 1.0,
    # lambda_1 = 0.95 per phase-II update (amendment 2)
    "gsl-dapg-decay": Variant(
        "gsl",
        {"demo_coeff": 1.0, "gsl.dapg.decay": 0.95},
        "original DAPG's schedule: log pi, weight 1.0 x 0.95^k (k: phase-II updates)",
    ),
}


def _check_variant(name: str, variant: str, method: str | None = None) -> Variant:
    if variant not in VARIANTS:
        raise ValueError(f"{name}: unknown variant {variant!r}; known: {sorted(VARIANTS)}")
    if method is not None and VARIANTS[variant].method != method:
        raise ValueError(f"{name}: {variant!r} is a {VARIANTS[variant].method} variant")
    return VARIANTS[variant]


#: PPO variants whose tuning runs are the PPO half of a GSL variant's experiment: the experiment
#: continues PPO from GSL's phase-I checkpoint, and phase I is plain PPO with the same options and
#: the same initial state, so the two methods share it bit for bit and PPO computes only what
#: follows phase I (:mod:`gsl_jax.experiments.procgen`).
PAIRED = {"ppo": "gsl"}


def _experiment(stage: str, variant: str, ppo_variant: str) -> tuple[str, str, tuple[str, ...]]:
    """``(gsl_or_ppo_variant, ppo_variant, methods)`` of the experiment that holds ``variant``'s
    runs: every final experiment is a pair (a GSL variant on a PPO variant, both methods)."""
    if stage == "final":
        _check_variant("variant", variant, "gsl")
        return variant, ppo_variant, ("ppo", "gsl")
    variant = PAIRED.get(variant, variant)
    if variant in PAIRED.values():
        return variant, "ppo", ("ppo", "gsl")
    return variant, "ppo", (VARIANTS[variant].method,)


def stage_settings(
    stage: str, variant: str, setting: StudySetting, ppo_variant: str = "ppo"
) -> Settings:
    """The Procgen experiment that holds ``variant``'s runs on ``setting`` in ``stage``.

    Tuning: the variant alone on seeds 0-2 (a :data:`PAIRED` pair runs both methods). Final: the
    GSL ``variant`` on ``ppo_variant``'s PPO options (which GSL's phases use, protocol section
    4), with PPO itself continued from GSL's phase I, on seeds 100-104 and 500 held-out levels.

    Raises:
        ValueError: for an unknown stage or variant, a final stage of a PPO variant, a setting
            whose budget is not the study preset's B, or an option the experiment refuses.
    """
    if stage not in STAGES:
        raise ValueError(f"stage: {stage!r} is not one of {list(STAGES)}")
    _check_variant("variant", variant)
    base = _check_variant("ppo_variant", ppo_variant, "ppo")
    if setting.budget != STUDY_BUDGET:
        raise ValueError(
            f"budget: {setting.label}'s B = {setting.budget:,} is not the study preset's "
            f"{STUDY_BUDGET:,}"
        )
    name, _, methods = _experiment(stage, variant, ppo_variant)
    episodes, heldout = STAGE_EVAL[stage]
    seeds = TUNING_SEEDS if stage == "tune" else FINAL_SEEDS
    overrides = {
        "games": [setting.game],
        "distribution_mode": setting.mode,
        "num_levels": setting.levels,
        "seeds": list(seeds),
        "methods": list(methods),
        "final_eval_episodes": episodes,
        "heldout_levels": heldout,
        **(base.options if stage == "final" else {}),
        **VARIANTS[name].options,
    }
    return resolve_settings("study", overrides)


def stage_dir(
    root: Path, stage: str, variant: str, setting: StudySetting, ppo_variant: str = "ppo"
) -> Path:
    """The run directory of the experiment that holds ``variant``'s runs: ``root/tune/NAME/
    GAME_MODE_LEVELS`` (``NAME``: the variant, or the GSL variant it is paired with) or
    ``root/final/GSL_VARIANT+PPO_VARIANT/GAME_MODE_LEVELS``."""
    name, ppo, _ = _experiment(stage, variant, ppo_variant)
    folder = f"{name}+{ppo}" if stage == "final" else name
    return Path(root) / stage / folder / setting.label


def branch_source(root: Path, stage: str, variant: str, setting: StudySetting) -> Path | None:
    """Where a tuning experiment's GSL runs may take their phase I from: the ``gsl`` variant's
    experiment on the same setting, when ``variant`` is another GSL variant that agrees with it
    on every field phase I reads (:data:`gsl_jax.gsl_branch.PHASE1_FIELDS`; the results are
    those of runs from scratch, at the cost of what follows phase I only). ``None`` otherwise."""
    base = next(iter(PAIRED.values()))
    if stage != "tune" or VARIANTS[variant].method != "gsl" or variant == base:
        return None
    mine = stage_settings(stage, variant, setting).gsl.to_dict()
    theirs = stage_settings(stage, base, setting).gsl.to_dict()
    if any(mine[name] != theirs[name] for name in PHASE1_FIELDS):
        return None
    return stage_dir(root, stage, base, setting)


def _scores(run_dir: Path, method: str, split: str) -> dict[int, float]:
    """``{seed: normalised score}`` of ``method`` on ``split`` in an experiment's results."""
    path = run_dir / "results.json"
    if not path.exists():
        return {}
    results = json.loads(path.read_text())
    return {
        int(r["seed"]): float(r[split]["normalized"])
        for r in results["runs"]
        if r["method"] == method
    }


def tuning_table(root: Path, settings: Sequence[StudySetting]) -> list[dict[str, Any]]:
    """Every variant with tuning results under ``root``: per setting the mean training-level
    normalised score over the tuning seeds (``None`` while incomplete) and the mean over
    settings (only when every setting is complete). Held-out scores are not read."""
    rows = []
    for name, v in VARIANTS.items():
        per: dict[str, float | None] = {}
        for s in settings:
            got = _scores(stage_dir(root, "tune", name, s), v.method, "train")
            done = all(seed in got for seed in TUNING_SEEDS)
            per[s.label] = float(np.mean([got[x] for x in TUNING_SEEDS])) if done else None
        if all(x is None for x in per.values()):
            continue
        complete = all(x is not None for x in per.values())
        mean = float(np.mean(list(per.values()))) if complete else None
        rows.append({"variant": name, "method": v.method, "note": v.note, **per, "mean": mean})
    return rows


def final_comparison(
    root: Path,
    settings: Sequence[StudySetting],
    chosen: Mapping[str, str],
    reps: int = 10_000,
) -> dict[str, Any]:
    """The protocol's section 5 on the final pair ``chosen`` (``{"ppo": variant, "gsl":
    variant}``, one experiment per setting, :func:`stage_dir`): per method the IQM of held-out
    normalised scores over (setting, seed) with a stratified bootstrap 95% CI (seeds resampled
    within each setting), the mean, median and optimality gap beside it, and the decision.

    Raises:
        ValueError: naming the first missing (method, setting, seed).
    """
    for method in ("ppo", "gsl"):
        _check_variant(f"final {method}", chosen.get(method, ""), method)
    out: dict[str, Any] = {"settings": [asdict(s) for s in settings], "methods": {}}
    for method, variant in chosen.items():
        matrix = np.zeros((len(FINAL_SEEDS), len(settings)))
        for j, s in enumerate(settings):
            where = stage_dir(root, "final", chosen["gsl"], s, chosen["ppo"])
            got = _scores(where, method, "heldout")
            for i, seed in enumerate(FINAL_SEEDS):
                if seed not in got:
                    raise ValueError(
                        f"final: no {method} ({variant}) result for {s.label}, seed {seed}"
                    )
                matrix[i, j] = got[seed]
        # iqm decides; mean, median and optimality gap (with CIs) are reported beside it
        aggregates = sc.aggregate(matrix, reps=reps, seed=0)
        out["methods"][method] = {"variant": variant, **aggregates, "scores": matrix.tolist()}
    g, p = out["methods"]["gsl"]["iqm"]["ci"], out["methods"]["ppo"]["iqm"]["ci"]
    if g[0] > p[1]:
        out["decision"] = "GSL beats PPO"
    elif p[0] > g[1]:
        out["decision"] = "PPO beats GSL"
    else:
        out["decision"] = "no difference shown"
    return out
