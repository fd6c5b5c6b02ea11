"""The settings of a GSL run: :class:`GSLConfig` (everything :func:`gsl_jax.gsl.run_gsl` needs
besides the environment), validated on construction and round-tripped through JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from gsl_jax import validation
from gsl_jax.envs.core import Environment
from gsl_jax.networks import NetworkConfig
from gsl_jax.plateau import PlateauConfig
from gsl_jax.ppg.config import PPGConfig
from gsl_jax.ppg.config import check_pair as check_ppg_pair
from gsl_jax.ppo_config import DAPGConfig, PPOConfig
from gsl_jax.selection import SplitMode

__all__ = ["DEFAULT_SPECIALIST_STEPS", "GSLConfig"]

#: ``specialist_steps`` when nothing sets it.
DEFAULT_SPECIALIST_STEPS = 1_000_000
#: Environments with more variations than this need an explicit ``num_train_variations``.
_MAX_IMPLICIT_VARIATIONS = 100_000


@dataclass(frozen=True)
class GSLConfig:
    """Everything a GSL run needs besides the environment.

    Attributes:
        ppo: PPO settings of the generalist and the specialists (with ``learner="ppg"``, the
            rollout and policy-loss settings PPG reads, :mod:`gsl_jax.ppg.config`).
        learner: the base learner of every phase, ``"ppo"`` or ``"ppg"`` (:mod:`gsl_jax.ppg`:
            the DAPG term joins PPG's policy phase).
        ppg: PPG's own settings (read only with ``learner="ppg"``).
        network: the actor-critic.
        dapg: the phase-II demonstration term.
        plateau: criterion H and the phase-I budget (``plateau.max_steps``).
        num_train_variations: train on variations ``0 .. n - 1`` (e.g. 200 Procgen levels);
            default all of the environment's variations.
        num_specialists: N_s.
        num_low: N_lenv, the number of worst variations handed to specialists.
        split: ``"random"`` or ``"contiguous"`` split of E_low.
        select_metric: rank variations by mean ``"return"`` or ``"success"`` rate.
        eval_episodes: episodes per variation when ranking.
        low_finetune_steps: env-steps of the optional pi_g_low fine-tune on E_low before cloning
            the specialists (0: clone pi_g itself, as in the released code).
        specialist_steps: env-steps per specialist.
        specialist_steps_per_variation: if set, each specialist trains this times
            ``ceil(num_low / num_specialists)`` env-steps (its largest subset: one vmapped
            program runs every member equally long), and ``specialist_steps`` must keep its
            default or equal that (else a contradiction, refused). :attr:`specialist_budget`.
        specialist_num_envs: envs per specialist (default ``ppo.num_envs``), in training and
            demo collection; ``ppo.num_minibatches`` must divide its batch.
        fresh_specialist_optimizer: give specialists a fresh optimiser state instead of the
            generalist's.
        specialist_demo_episodes: N_D^s, successful episodes kept from all specialists together.
        generalist_demo_episodes: N_D^g, kept from the generalist on E \\ E_low.
        demo_steps: env-steps per env of one demo-collection rollout.
        demo_return_threshold: keep episodes whose return reaches this instead of using the
            environment's success flag (for environments without one).
        phase2_steps: generalist env-steps in phase II (of all cycles together).
        total_steps: if set, a cap on the run's total env-steps, every counted step included
            (phase I, selection evaluation, pi_g_low, specialists, demo collection, phase II, all
            cycles): phase II stops at its last whole chunk within the cap, so a phase I that
            plateaus early leaves its unused steps to phase II (with ``phase2_steps`` set at
            least as large), and a later cycle starts only while the cap leaves room for its
            specialists, pi_g_low and one phase-II chunk. ``None``: phase II runs
            ``phase2_steps``.
        max_cycles: how many specialist -> demonstration -> phase-II cycles may run (1: the
            paper). With more, phase II of a cycle ends when criterion H (``plateau``, on that
            phase II's own records and steps; its ``max_steps`` does not apply) fires and
            phase-II steps remain; selection, pi_g_low, the specialists and the demos then run
            again and phase II goes on with the new demos. ``total_steps`` counts every cycle.
        cycle_demos: what a later cycle does with the demo buffer: ``"replace"`` it with the new
            demos, or ``"add"`` the new ones to it.
        updates_per_chunk: PPO updates per compiled chunk.
        seed: PRNG seed.
    """

    ppo: PPOConfig = field(default_factory=PPOConfig)
    learner: Literal["ppo", "ppg"] = "ppo"
    ppg: PPGConfig = field(default_factory=PPGConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    dapg: DAPGConfig = field(default_factory=DAPGConfig)
    plateau: PlateauConfig = field(default_factory=PlateauConfig)
    num_train_variations: int | None = None
    num_specialists: int = 4
    num_low: int = 8
    split: SplitMode = "random"
    select_metric: Literal["return", "success"] = "return"
    eval_episodes: int = 4
    low_finetune_steps: int = 0
    specialist_steps: int = DEFAULT_SPECIALIST_STEPS
    specialist_steps_per_variation: int | None = None
    specialist_num_envs: int | None = None
    fresh_specialist_optimizer: bool = False
    specialist_demo_episodes: int = 64
    generalist_demo_episodes: int = 64
    demo_steps: int = 512
    demo_return_threshold: float | None = None
    phase2_steps: int = 5_000_000
    total_steps: int | None = None
    max_cycles: int = 1
    cycle_demos: Literal["replace", "add"] = "replace"
    updates_per_chunk: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        nested = {"ppo": PPOConfig, "network": NetworkConfig, "dapg": DAPGConfig, "ppg": PPGConfig}
        for name, klass in {**nested, "plateau": PlateauConfig}.items():
            validation.check_instance(f"gsl.{name}", getattr(self, name), klass)
        positive = (
            "num_specialists",
            "num_low",
            "eval_episodes",
            "specialist_steps",
            "demo_steps",
            "phase2_steps",
            "updates_per_chunk",
            "max_cycles",
        )
        validation.check_fields("gsl", self, validation.check_positive, positive, integer=True)
        counts = ("specialist_demo_episodes", "generalist_demo_episodes", "low_finetune_steps")
        validation.check_fields("gsl", self, validation.check_non_negative, counts, integer=True)
        if self.num_train_variations is not None:
            validation.check_positive(
                "gsl.num_train_variations", self.num_train_variations, integer=True
            )
        if self.total_steps is not None:
            validation.check_positive("gsl.total_steps", self.total_steps, integer=True)
        if self.demo_return_threshold is not None:
            validation.check_finite("gsl.demo_return_threshold", self.demo_return_threshold)
        # jax.random.key keeps 32 bits of a seed (2**32 + 5 gives the key of 5); numpy
        # refuses negative seeds only when the phase that draws from it starts.
        validation.check_finite(
            "gsl.seed", self.seed, low=0, high=2**32, high_open=True, integer=True
        )
        validation.check_bool("gsl.fresh_specialist_optimizer", self.fresh_specialist_optimizer)
        for name in ("specialist_steps_per_variation", "specialist_num_envs"):
            if getattr(self, name) is not None:
                validation.check_positive(f"gsl.{name}", getattr(self, name), integer=True)
        validation.check_choice("gsl.cycle_demos", self.cycle_demos, ("replace", "add"))
        if self.num_specialists > self.num_low:
            raise ValueError(
                f"gsl.num_specialists: {self.num_specialists} specialists need at least as many "
                f"variations, but num_low (N_lenv) is {self.num_low}"
            )
        validation.check_choice("gsl.split", self.split, ("random", "contiguous"))
        if self.learner == "ppo" and self.ppo.anneals and self.ppo.lr_decay_updates == 0:
            raise ValueError(
                f"gsl.ppo.lr_schedule: {self.ppo.lr_schedule!r} needs ppo.lr_decay_updates under "
                "GSL (the generalist's optimiser state, schedule count included, carries from "
                "phase I into the specialists and phase II, so no single budget fixes the "
                "horizon); set it, or use 'constant'"
            )
        validation.check_choice("gsl.learner", self.learner, ("ppo", "ppg"))
        if self.learner == "ppg":
            check_ppg_pair(self.ppg, self.ppo, self.network.kind)
            if self.specialist_num_envs not in (None, self.ppo.num_envs):
                raise ValueError(
                    f"gsl.specialist_num_envs: with learner='ppg' the specialists keep the "
                    f"generalist's {self.ppo.num_envs} envs (PPG's rollout buffer is sized by "
                    f"them); got {self.specialist_num_envs}"
                )
        validation.check_choice("gsl.select_metric", self.select_metric, ("return", "success"))
        per_variation, steps = self.specialist_steps_per_variation, self.specialist_steps
        if per_variation and steps not in (DEFAULT_SPECIALIST_STEPS, self.specialist_budget):
            raise ValueError(
                f"gsl.specialist_steps: {steps:,} contradicts specialist_steps_per_variation = "
                f"{per_variation:,} ({self.specialist_budget:,} per specialist of up to "
                f"{self.largest_subset} variations); set specialist_steps to that or to its "
                f"default {DEFAULT_SPECIALIST_STEPS:,}"
            )
        self.specialist_ppo  # noqa: B018  (refuses a batch num_minibatches cannot split)
        before_phase2 = self.plateau.max_steps + self.cycle_steps
        if self.total_steps is not None and self.total_steps <= before_phase2:
            raise ValueError(
                f"gsl.total_steps: {self.total_steps:,} leaves no phase II after phase I's "
                f"{self.plateau.max_steps:,} (plateau.max_steps) and a cycle's "
                f"{self.cycle_steps:,} specialist and pi_g_low steps"
            )

    @property
    def largest_subset(self) -> int:
        """Variations of the largest specialist subset, ``ceil(num_low / num_specialists)``."""
        return -(-self.num_low // self.num_specialists)

    @property
    def specialist_budget(self) -> int:
        """Env-steps each specialist trains (``specialist_steps`` or the per-variation budget)."""
        if self.specialist_steps_per_variation is None:
            return self.specialist_steps
        return self.specialist_steps_per_variation * self.largest_subset

    @property
    def cycle_steps(self) -> int:
        """Env-steps one cycle trains besides phase II: every specialist and pi_g_low."""
        return self.num_specialists * self.specialist_budget + self.low_finetune_steps

    @property
    def max_total_steps(self) -> int:
        """The most env-steps the training phases may take: phase I's budget, phase II's and
        every cycle's specialists and pi_g_low, capped by ``total_steps`` (selection evaluation
        and demo collection not included)."""
        budget = self.plateau.max_steps + self.phase2_steps + self.max_cycles * self.cycle_steps
        return budget if self.total_steps is None else min(budget, self.total_steps)

    @property
    def specialist_ppo(self) -> PPOConfig:
        """The specialists' PPO config: ``ppo`` with ``specialist_num_envs`` envs."""
        if self.specialist_num_envs is None or self.specialist_num_envs == self.ppo.num_envs:
            return self.ppo
        try:
            return self.ppo.replace(num_envs=self.specialist_num_envs)
        except ValueError as err:
            raise ValueError(f"gsl.specialist_num_envs: {err}") from None

    def train_variations(self, env: Environment) -> int:
        """The number of training variations on ``env``, validated."""
        n = self.num_train_variations
        if n is None:
            if env.num_variations > _MAX_IMPLICIT_VARIATIONS:
                raise ValueError(
                    f"gsl.num_train_variations: {env.name} has {env.num_variations:,} "
                    "variations; set how many to train on (e.g. 200 Procgen levels)"
                )
            n = env.num_variations
        if n > env.num_variations:
            raise ValueError(
                f"gsl.num_train_variations: {n} exceeds the {env.num_variations} variations "
                f"of {env.name}"
            )
        return n

    def validate_for(self, env: Environment) -> None:
        """Checks that need the environment: ``num_low`` against the training variations."""
        n = self.train_variations(env)
        if self.num_low > n:
            raise ValueError(
                f"gsl.num_low: N_lenv = {self.num_low} exceeds the {n} training variations "
                f"of {env.name}"
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (nested configs as dicts)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GSLConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError`` naming them."""
        nested = {"ppo": PPOConfig, "network": NetworkConfig, "dapg": DAPGConfig}
        nested["plateau"] = PlateauConfig
        nested["ppg"] = PPGConfig
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"gsl config: unknown field {unknown[0]!r}")
        kwargs = dict(data)
        for name, klass in nested.items():
            if name in kwargs:
                sub = kwargs[name]
                sub_known = {f.name for f in dataclasses.fields(klass)}
                bad = sorted(set(sub) - sub_known)
                if bad:
                    raise ValueError(f"gsl config: unknown field {name}.{bad[0]!r}")
                # JSON has no tuples: give tuple-valued fields (e.g. network.hidden) theirs back
                sub = {k: tuple(v) if isinstance(v, list) else v for k, v in sub.items()}
                kwargs[name] = klass(**sub)
        return cls(**kwargs)
