"""Settings of the Procgen experiment: the library's :class:`~gsl_jax.gsl.GSLConfig` (which holds
the :class:`~gsl_jax.ppo.PPOConfig`, :class:`~gsl_jax.networks.NetworkConfig`,
:class:`~gsl_jax.ppo.DAPGConfig` and :class:`~gsl_jax.plateau.PlateauConfig` both methods use),
plus the experiment's own fields (games, seeds, levels, budget, evaluation, GIF).

Options are named by their path (``"steps"``, ``"gsl.ppo.learning_rate"``); the short names of
the command line (``"learning_rate"``, ``"demo_episodes"``, ...) are aliases of nested paths
(:data:`ALIASES`). The budget fields of ``gsl`` are derived from ``steps`` and the fractions
(:data:`DERIVED`) and cannot be set.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gsl_jax.gsl import DEFAULT_SPECIALIST_STEPS, GSLConfig
from gsl_jax.presets import LOG_PROB_DAPG, MLP_64, PROCGEN_COMPACT
from gsl_jax.validation import (
    check_bool,
    check_choice,
    check_finite,
    check_instance,
    check_positive,
)

METHODS = ("ppo", "gsl")
LEARNERS = ("ppo", "ppg")
BACKENDS = ("jax", "envpool")

#: The GSL (and PPO) config of the quick preset: the library's compact-observation PPO and MLP,
#: and its DAPG term weighted by 0.1 rather than the released 0.5 (docs/benchmarks.md, section 6:
#: at 0.5 the term held phase II's return below plain PPO's). Its budget fields are replaced
#: (:data:`DERIVED`); the fields left out take :class:`GSLConfig`'s defaults.
QUICK_GSL = GSLConfig(
    ppo=PROCGEN_COMPACT,
    network=MLP_64,
    dapg=dataclasses.replace(LOG_PROB_DAPG, demo_coeff=0.1),
    eval_episodes=2,
    demo_steps=256,
    updates_per_chunk=3,
)

#: Fields of ``gsl`` the experiment sets itself (from ``num_levels``, ``steps`` and the fractions;
#: ``seed`` per run).
DERIVED = (
    "gsl.num_train_variations",
    "gsl.plateau.min_steps",
    "gsl.plateau.max_steps",
    "gsl.specialist_steps",
    "gsl.phase2_steps",
    "gsl.total_steps",
    "gsl.seed",
    "gsl.learner",
)

#: Command-line names of nested options (``demo_episodes`` sets both demo counts).
ALIASES: dict[str, tuple[str, ...]] = {
    "network": ("gsl.network.kind",),
    "hidden": ("gsl.network.hidden",),
    "num_envs": ("gsl.ppo.num_envs",),
    "num_steps": ("gsl.ppo.num_steps",),
    "num_minibatches": ("gsl.ppo.num_minibatches",),
    "update_epochs": ("gsl.ppo.update_epochs",),
    "learning_rate": ("gsl.ppo.learning_rate",),
    "gamma": ("gsl.ppo.gamma",),
    "updates_per_chunk": ("gsl.updates_per_chunk",),
    "num_specialists": ("gsl.num_specialists",),
    "num_low": ("gsl.num_low",),
    "eval_episodes": ("gsl.eval_episodes",),
    "demo_episodes": ("gsl.specialist_demo_episodes", "gsl.generalist_demo_episodes"),
    "demo_steps": ("gsl.demo_steps",),
    "demo_coeff": ("gsl.dapg.demo_coeff",),
    "demo_freq": ("gsl.dapg.demo_freq",),
    "specialist_steps_per_variation": ("gsl.specialist_steps_per_variation",),
    "specialist_num_envs": ("gsl.specialist_num_envs",),
    "max_cycles": ("gsl.max_cycles",),
}

#: The options a preset fixes (its defining choices); others may be changed freely.
LOCKED = ("obs_mode", "gsl.network.kind", "gsl.network.hidden", "steps")


@dataclass(frozen=True)
class Settings:
    """Everything that defines one experiment (saved in ``experiment.json``).

    Attributes:
        games: Procgen games (the JAX ports, or any of the 16 with ``backend="envpool"``).
        seeds: one GSL and one PPO run per seed and game.
        methods: ``"ppo"`` and/or ``"gsl"``.
        learners: the base learners, ``"ppo"`` and/or ``"ppg"`` (:mod:`gsl_jax.ppg`); each method
            runs on each (the ``"ppo"`` method is then that learner alone, GSL that learner with
            GSL). With one, ``gsl.learner`` is set to it; with several, each gets an experiment
            of its own in a subfolder named after it (:func:`~gsl_jax.experiments.procgen.runs.
            run_experiment`).
        backend: ``"jax"`` (the ports) or ``"envpool"`` (the real games; PPO only).
        distribution_mode: ``"easy"`` or ``"hard"``.
        obs_mode: ``"symbolic"`` (the ports' compact view) or ``"pixels"``.
        num_levels: N, training levels ``0 .. N-1``.
        heldout_levels: K, held-out levels ``N .. N+K-1``.
        steps: the budget per game, seed and method: GSL's phases are cut from it (phase I at
            most ``phase1_fraction``, the specialists together ``specialist_fraction``, phase
            II the rest); PPO then gets what GSL used, rounded up to whole chunks (PPO alone:
            ``steps``; with ``fixed_budget``, exactly ``steps``).
        fixed_budget: cap GSL's total env-steps, every counted step included, at ``steps``
            (``gsl.total_steps``): phase II takes whatever phase I (ended early by the plateau
            criterion or not), the selection evaluation, the specialists and the demos leave (GSL
            trains ``steps`` less the part of a chunk that does not fit), and PPO trains exactly
            ``steps`` (to the update), as the GSL study's protocol asks
            (docs/gsl_protocol.md). ``False``: phase II is ``steps``
            less phase I's and the specialists' budgets, so an early plateau shortens GSL's run
            and the selection and demo steps lengthen it (PPO matches GSL's total either way).
        final_eval_episodes: episodes per level of the final evaluation.
        gif_levels, gif_steps: held-out levels and frames of the GIF (0 levels: no GIF).
        checkpoint_every: chunks between checkpoints.
        timeout: episode step limit (``None``: the game's own).
        gsl: GSL's config, whose ``ppo`` and ``network`` the PPO baseline uses too. Its
            :data:`DERIVED` fields are recomputed on construction (``seed`` is 0 here; each run
            uses its own, see :func:`gsl_config`).
    """

    games: tuple[str, ...] = ("coinrun",)
    seeds: tuple[int, ...] = (0, 1)
    methods: tuple[str, ...] = METHODS
    learners: tuple[str, ...] = ("ppo",)
    backend: str = "jax"
    distribution_mode: str = "easy"
    obs_mode: str = "symbolic"
    num_levels: int = 200
    heldout_levels: int = 100
    steps: int = 3_300_000
    phase1_fraction: float = 0.45
    specialist_fraction: float = 0.3
    fixed_budget: bool = False
    final_eval_episodes: int = 2
    gif_levels: int = 4
    gif_steps: int = 200
    checkpoint_every: int = 5
    timeout: int | None = None
    gsl: GSLConfig = QUICK_GSL

    def __post_init__(self) -> None:
        for name in ("games", "seeds", "methods", "learners"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, tuple | list):
                raise ValueError(f"{name}: expected a list, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        _check_fields(self)
        object.__setattr__(self, "seeds", tuple(int(x) for x in self.seeds))  # numpy ints too
        object.__setattr__(self, "gsl", _derive(self))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the experiment's fields and ``gsl`` as :meth:`GSLConfig.to_dict`."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Settings:
        """Inverse of :meth:`to_dict`; also reads the flat settings of version 1 (before the
        configs were nested). ``ValueError`` naming the field for anything unknown or invalid."""
        if not isinstance(data, Mapping):
            raise ValueError(f"settings: expected a JSON object, got {type(data).__name__}")
        if "gsl" not in data:
            data = _upgrade_flat(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"settings.{unknown[0]}: not a field of the Procgen experiment")
        kwargs = dict(data)
        try:
            kwargs["gsl"] = GSLConfig.from_dict(data["gsl"])
        except (TypeError, AttributeError) as err:
            raise ValueError(f"settings.gsl: not a GSL config ({err})") from None
        return cls(**kwargs)


#: Fields that are positive integers.
_POSITIVE_INTS = (
    "num_levels",
    "heldout_levels",
    "steps",
    "final_eval_episodes",
    "gif_steps",
    "checkpoint_every",
)


def _check_list(name: str, value: tuple, check) -> None:
    """A non-empty list of distinct entries, each passing ``check(f"{name}[i]", entry)``."""
    if not value:
        raise ValueError(f"{name}: give at least one, got {list(value)}")
    for i, entry in enumerate(value):
        check(f"{name}[{i}]", entry)
    if len(set(value)) != len(value):
        raise ValueError(f"{name}: duplicates in {list(value)}")


def _check_seed(name: str, value: Any) -> None:
    check_finite(name, value, low=0, integer=True)
    if value >= 2**31:
        raise ValueError(f"{name}: must be < 2**31, got {value}")


def _check_fields(s: Settings) -> None:
    """The experiment's own fields, by :mod:`gsl_jax.validation` (types, finiteness, ranges; the
    nested configs check theirs)."""
    _check_list("games", s.games, lambda name, g: check_instance(name, g, str))
    _check_list("seeds", s.seeds, _check_seed)
    _check_list("methods", s.methods, lambda name, m: check_choice(name, m, METHODS))
    _check_list("learners", s.learners, lambda name, m: check_choice(name, m, LEARNERS))
    check_bool("fixed_budget", s.fixed_budget)
    check_choice("backend", s.backend, BACKENDS)
    check_choice("distribution_mode", s.distribution_mode, ("easy", "hard"))
    check_choice("obs_mode", s.obs_mode, ("symbolic", "pixels"))
    for name in _POSITIVE_INTS:
        check_positive(name, getattr(s, name), integer=True)
    if s.timeout is not None:
        check_positive("timeout", s.timeout, integer=True)
    check_finite("gif_levels", s.gif_levels, low=0, high=s.heldout_levels, integer=True)
    if s.num_levels + s.heldout_levels >= 2**31 - 1:
        raise ValueError("heldout_levels: training and held-out levels exceed the level seeds")
    for name in ("phase1_fraction", "specialist_fraction"):
        check_finite(name, getattr(s, name), low=0, high=1, low_open=True, high_open=True)
    if s.phase1_fraction + s.specialist_fraction >= 1:
        raise ValueError("specialist_fraction: phase I and the specialists leave no phase II")
    check_instance("gsl", s.gsl, GSLConfig)
    if "gsl" in s.methods and s.gsl.num_low > s.num_levels:
        raise ValueError(f"gsl.num_low: {s.gsl.num_low} worst levels of only {s.num_levels}")


def round_up(x: float, step: int) -> int:
    """``x`` rounded up to a whole, positive number of ``step``."""
    return max(step, int(math.ceil(x / step)) * step)


def _derive(s: Settings) -> GSLConfig:
    """``s.gsl`` with its budget cut from ``s.steps``, each phase a whole number of chunks:
    phase I ends at its budget or, earlier, when the plateau criterion fires in its last
    quarter; ``seed`` is 0."""
    # The plateau may not fire before 3/4 of phase I: on coinrun at 1M env-steps it fired on a
    # noisy dip at 390k while PPO went on improving, handing 40% of the budget to specialists.
    # With gsl.specialist_steps_per_variation set, that budget replaces specialist_fraction.
    g = s.gsl
    chunk = g.updates_per_chunk * g.ppo.batch_size
    spec_chunk = g.updates_per_chunk * g.specialist_ppo.batch_size
    phase1 = round_up(s.steps * s.phase1_fraction, chunk)
    specialist = round_up(s.steps * s.specialist_fraction / g.num_specialists, spec_chunk)
    if g.specialist_steps_per_variation is not None:
        specialist = g.specialist_budget
    spent = g.num_specialists * round_up(specialist, spec_chunk)
    if g.specialist_steps_per_variation is not None and s.steps - phase1 - spent <= 0:
        raise ValueError(
            f"gsl.specialist_steps_per_variation: {g.num_specialists} specialists x "
            f"{specialist:,} steps leave no phase II of steps = {s.steps:,}"
        )
    phase2 = round_up(s.steps - phase1 - spent, chunk)
    total = None
    if s.fixed_budget:  # phase II's length is what the cap leaves; phase2_steps only bounds it
        phase2, total = round_up(s.steps - spent, chunk), s.steps
    plateau = dataclasses.replace(g.plateau, min_steps=(3 * phase1) // 4, max_steps=phase1)
    return dataclasses.replace(
        g,
        plateau=plateau,
        num_train_variations=s.num_levels,
        specialist_steps=specialist,
        phase2_steps=phase2,
        total_steps=total,
        seed=0,
        learner=s.learners[0],  # one experiment per learner (several: see run_experiment)
    )


def gsl_config(s: Settings, seed: int) -> GSLConfig:
    """GSL's config of the run with ``seed`` (the PPO baseline uses its ``ppo`` and
    ``network``, and the very same initial state)."""
    return dataclasses.replace(s.gsl, seed=seed)


def chunk_steps(s: Settings) -> int:
    """Env-steps of one learner per compiled chunk."""
    return s.gsl.updates_per_chunk * s.gsl.ppo.batch_size


def env_options(s: Settings) -> dict[str, Any]:
    """The options of ``make_env`` for every game of ``s``."""
    options: dict[str, Any] = {"distribution_mode": s.distribution_mode, "obs_mode": s.obs_mode}
    if s.timeout is not None:
        options["timeout"] = s.timeout
    return options


# ------------------------------------------------------------------------------------------------
# Options by path: overrides and the version-1 (flat) settings
# ------------------------------------------------------------------------------------------------
def _get(tree: Mapping[str, Any], path: str) -> Any:
    node: Any = tree
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(path)
        node = node[part]
    return node


def _set(tree: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = tree
    for part in parents:
        node = node[part]
    node[last] = value


def _plain(value: Any) -> Any:
    """JSON's view of a value (tuples as lists), for comparisons with ``to_dict``."""
    return json.loads(json.dumps(value))


def _same_kind(old: Any, value: Any) -> bool:
    """Whether ``value`` may replace ``old`` (JSON's view): ints stay ints, numbers numbers."""
    if old is None or value is None:
        return True
    if isinstance(old, bool) or isinstance(value, bool):
        return isinstance(old, bool) and isinstance(value, bool)
    if isinstance(old, int):
        return isinstance(value, int)
    if isinstance(old, float):
        return isinstance(value, int | float)
    if isinstance(old, list):
        return isinstance(value, list | tuple)
    return isinstance(value, type(old))


def apply_overrides(base: Settings, overrides: Mapping[str, Any]) -> Settings:
    """``base`` with each ``{option: value}`` of ``overrides`` applied; an option is a path
    (``"gsl.ppo.ent_coef"``) or an :data:`ALIASES` name. ``ValueError`` naming the option for
    an unknown or derived one, or an invalid value."""
    tree = base.to_dict()
    for name, value in overrides.items():
        for path in ALIASES.get(name, (name,)):
            if path in DERIVED:
                raise ValueError(
                    f"{name}: set by the experiment from num_levels, steps, phase1_fraction and "
                    "specialist_fraction (and each run's seed); set those instead"
                )
            try:
                old = _get(tree, path)
            except KeyError:
                raise ValueError(f"{name}: not an option of the Procgen experiment") from None
            if isinstance(old, Mapping):
                raise ValueError(f"{name}: a group of options; set its fields ({path}.FIELD)")
            if not _same_kind(old, value):
                raise ValueError(f"{name}: expected {type(old).__name__}, got {value!r}")
            _set(tree, path, _plain(value))
    if tree["gsl"].get("specialist_steps_per_variation") is not None:
        # derived again on construction: the old derived value would contradict the new budget
        tree["gsl"]["specialist_steps"] = DEFAULT_SPECIALIST_STEPS
    try:
        return Settings.from_dict(tree)
    except TypeError as err:
        raise ValueError(f"{', '.join(overrides) or 'settings'}: invalid value ({err})") from None
    except ValueError as err:
        raise ValueError(_as_option(str(err), overrides)) from None


def _as_option(message: str, overrides: Mapping[str, Any]) -> str:
    """``message`` of a nested config (``"dapg.demo_coeff: ..."``) naming the option as it was
    given (``"demo_coeff (gsl.dapg.demo_coeff): ..."``) when an override set that field."""
    field, sep, rest = message.partition(":")
    for name in overrides:
        for path in ALIASES.get(name, (name,)):
            if sep and (path == field or path.endswith("." + field)):
                return f"{name if name == path else f'{name} ({path})'}:{rest}"
    return message


def _upgrade_flat(data: Mapping[str, Any]) -> dict[str, Any]:
    """Version-1 settings (every option flat, the nested configs implied) as version 2's dict.

    The fields version 1 did not save took the values :data:`QUICK_GSL` holds, so the result
    equals the settings that run had."""
    own = {f.name for f in dataclasses.fields(Settings)} - {"gsl"}
    tree = Settings().to_dict()
    for name, value in data.items():
        if name in own:
            tree[name] = value
        elif name in ALIASES:
            for path in ALIASES[name]:
                _set(tree, path, value)
        else:
            raise ValueError(f"settings.{name}: not a field of the Procgen experiment")
    return tree


def locked_changes(preset: str, base: Settings, overrides: Mapping[str, Any]) -> None:
    """``ValueError`` if an override changes an option the preset fixes (:data:`LOCKED`)."""
    if preset == "custom":
        return
    tree = base.to_dict()
    for name, value in overrides.items():
        for path in ALIASES.get(name, (name,)):
            if path in LOCKED and _plain(value) != _get(tree, path):
                raise ValueError(
                    f"{name}: the {preset} preset fixes {name} = {_get(tree, path)!r}, got "
                    f"{value!r}; drop the option or use --preset custom"
                )
