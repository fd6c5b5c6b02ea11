"""Every numeric, bool and choice field of every library config rejects bad values by name.

The table lists each field with its rule; each rule expands into bad values of every kind that
applies to it (NaN, inf, negative, zero, wrong type, a bool for a number, a truthy string for a
bool). A NaN passes ``x <= 0`` and ``x < 0`` checks, so these are the ones that used to slip.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from gsl_jax.gsl import GSLConfig
from gsl_jax.networks import NetworkConfig
from gsl_jax.plateau import PlateauConfig
from gsl_jax.ppo import DAPGConfig, PPOConfig
from gsl_jax.validation import (
    check_bool,
    check_choice,
    check_finite,
    check_instance,
    check_non_negative,
    check_positive,
    check_sizes,
)

NAN, INF = math.nan, math.inf

#: rule -> bad values (each of a different kind)
BAD = {
    "positive_int": [0, -3, 2.0, "8", True, NAN, INF, None],
    "non_negative_int": [-1, 1.5, "1", True, NAN, INF],
    "positive": [0.0, -1e-3, NAN, INF, -INF, "0.1", True, None],
    "non_negative": [-0.1, NAN, INF, -INF, "0", True, None],
    "unit": [-0.1, 1.5, NAN, INF, "0.9", True],
    "unit_open_low": [0.0, -1.0, 1.5, NAN, INF, "1", True],  # (0, 1]
    "unit_open_high": [1.0, -0.1, NAN, INF, "0", True],  # [0, 1)
    "finite": [NAN, INF, -INF, "0", True, None],
    "bool": ["no", "yes", 1, 0, None, 1.0],
    "seed": [-1, 2**32, 1.5, "0", True, NAN],
    "optional_positive_int": [0, -1, 2.5, "200", True, NAN],
    "optional_finite": [NAN, INF, -INF, "1", True],
    "optional_positive": [0.0, -1.0, NAN, INF, "1", True],
    "sizes": [(), (0,), (-1, 4), (True,), (2.5,), "64", 64, None],
}

FIELDS = [
    # PPOConfig
    (PPOConfig, "ppo", "num_envs", "positive_int"),
    (PPOConfig, "ppo", "num_steps", "positive_int"),
    (PPOConfig, "ppo", "num_minibatches", "positive_int"),
    (PPOConfig, "ppo", "update_epochs", "positive_int"),
    (PPOConfig, "ppo", "learning_rate", "positive"),
    (PPOConfig, "ppo", "lr_decay_updates", "non_negative_int"),
    (PPOConfig, "ppo", "gamma", "unit"),
    (PPOConfig, "ppo", "gae_lambda", "unit"),
    (PPOConfig, "ppo", "clip_eps", "positive"),
    (PPOConfig, "ppo", "clip_value", "bool"),
    (PPOConfig, "ppo", "ent_coef", "non_negative"),
    (PPOConfig, "ppo", "vf_coef", "non_negative"),
    (PPOConfig, "ppo", "max_grad_norm", "positive"),
    (PPOConfig, "ppo", "adam_eps", "positive"),
    (PPOConfig, "ppo", "normalize_advantages", "bool"),
    (PPOConfig, "ppo", "normalize_rewards", "bool"),
    (PPOConfig, "ppo", "reward_clip", "positive"),
    (PPOConfig, "ppo", "entropy_reward_coef", "non_negative"),
    # NetworkConfig
    (NetworkConfig, "network", "hidden", "sizes"),
    (NetworkConfig, "network", "log_std_init", "finite"),
    (NetworkConfig, "network", "min_std", "optional_positive"),
    (NetworkConfig, "network", "max_std", "optional_positive"),
    # DAPGConfig
    (DAPGConfig, "dapg", "demo_coeff", "non_negative"),
    (DAPGConfig, "dapg", "demo_freq", "positive_int"),
    (DAPGConfig, "dapg", "demo_batch_size", "positive_int"),
    (DAPGConfig, "dapg", "use_log_prob", "bool"),
    (DAPGConfig, "dapg", "decay", "unit_open_low"),
    (DAPGConfig, "dapg", "normalized_max_advantage", "bool"),
    # PlateauConfig
    (PlateauConfig, "plateau", "window", "positive_int"),
    (PlateauConfig, "plateau", "rel_improvement", "unit_open_high"),
    (PlateauConfig, "plateau", "min_steps", "non_negative_int"),
    (PlateauConfig, "plateau", "max_steps", "positive_int"),
    # GSLConfig
    (GSLConfig, "gsl", "num_train_variations", "optional_positive_int"),
    (GSLConfig, "gsl", "num_specialists", "positive_int"),
    (GSLConfig, "gsl", "num_low", "positive_int"),
    (GSLConfig, "gsl", "eval_episodes", "positive_int"),
    (GSLConfig, "gsl", "low_finetune_steps", "non_negative_int"),
    (GSLConfig, "gsl", "specialist_steps", "positive_int"),
    (GSLConfig, "gsl", "specialist_steps_per_variation", "optional_positive_int"),
    (GSLConfig, "gsl", "specialist_num_envs", "optional_positive_int"),
    (GSLConfig, "gsl", "fresh_specialist_optimizer", "bool"),
    (GSLConfig, "gsl", "specialist_demo_episodes", "non_negative_int"),
    (GSLConfig, "gsl", "generalist_demo_episodes", "non_negative_int"),
    (GSLConfig, "gsl", "demo_steps", "positive_int"),
    (GSLConfig, "gsl", "demo_return_threshold", "optional_finite"),
    (GSLConfig, "gsl", "total_steps", "optional_positive_int"),
    (GSLConfig, "gsl", "phase2_steps", "positive_int"),
    (GSLConfig, "gsl", "max_cycles", "positive_int"),
    (GSLConfig, "gsl", "updates_per_chunk", "positive_int"),
    (GSLConfig, "gsl", "seed", "seed"),
]

CHOICES = [
    (PPOConfig, "ppo", "loop"),
    (PPOConfig, "ppo", "lr_schedule"),
    (NetworkConfig, "network", "kind"),
    (NetworkConfig, "network", "head"),
    (GSLConfig, "gsl", "split"),
    (GSLConfig, "gsl", "select_metric"),
    (GSLConfig, "gsl", "cycle_demos"),
    (GSLConfig, "gsl", "learner"),
]

CASES = [
    pytest.param(cls, f"{prefix}.{field}", value, id=f"{prefix}.{field}={value!r}")
    for cls, prefix, field, rule in FIELDS
    for value in BAD[rule]
] + [
    pytest.param(cls, f"{prefix}.{field}", value, id=f"{prefix}.{field}={value!r}")
    for cls, prefix, field in CHOICES
    for value in ("nonsense", None, 3, True)
]


@pytest.mark.parametrize("cls, name, value", CASES)
def test_every_bad_field_value_is_rejected_by_name(cls, name, value):
    field = name.split(".", 1)[1]
    with pytest.raises(ValueError, match="^" + re.escape(name) + r"(\[\d+\])?:"):
        cls(**{field: value})


def test_every_numeric_bool_and_choice_field_is_in_the_table():
    """A new config field must join the table (or this list of non-scalar fields)."""
    import dataclasses

    nested = {"ppo", "network", "dapg", "plateau", "ppg"}
    covered = {(c, f) for c, _, f, _ in FIELDS} | {(c, f) for c, _, f in CHOICES}
    for cls in (PPOConfig, NetworkConfig, DAPGConfig, PlateauConfig, GSLConfig):
        for f in dataclasses.fields(cls):
            if cls is GSLConfig and f.name in nested:
                continue
            assert (cls, f.name) in covered, f"{cls.__name__}.{f.name} is not in the table"


@pytest.mark.parametrize("field", ["ppo", "network", "dapg", "plateau"])
def test_nested_configs_must_be_configs(field):
    with pytest.raises(ValueError, match=f"^gsl.{field}: must be a"):
        GSLConfig(**{field: {"learning_rate": 1e-3}})


def test_cross_field_rules_still_hold():
    with pytest.raises(ValueError, match="^ppo.num_minibatches: the batch"):
        PPOConfig(num_envs=4, num_steps=8, num_minibatches=3)
    with pytest.raises(ValueError, match="^plateau.max_steps: must be >= min_steps = 10"):
        PlateauConfig(min_steps=10, max_steps=5)
    with pytest.raises(ValueError, match="^gsl.num_specialists: 5 specialists"):
        GSLConfig(num_specialists=5, num_low=4)


def test_numpy_scalars_and_edge_values_are_valid():
    ppo = PPOConfig(
        num_envs=np.int64(8),
        num_steps=16,
        num_minibatches=np.int32(4),
        learning_rate=np.float32(1e-3),
        gamma=1.0,
        gae_lambda=0.0,
        ent_coef=0,  # an int where a float is expected is a number
        normalize_rewards=np.bool_(False),
    )
    assert ppo.batch_size == 128
    assert DAPGConfig(decay=1.0, demo_coeff=0.0).decay == 1.0
    assert PlateauConfig(rel_improvement=0.0, min_steps=0, max_steps=1).max_steps == 1
    assert GSLConfig(seed=2**32 - 1, demo_return_threshold=-5).seed == 2**32 - 1
    assert NetworkConfig(hidden=[32], log_std_init=-2.5).hidden == [32]


def test_validators_messages():
    with pytest.raises(ValueError, match=r"^x: must lie in \(0, 1\], got 0"):
        check_finite("x", 0, low=0, high=1, low_open=True)
    with pytest.raises(ValueError, match=r"^x: must be <= 2, got 3"):
        check_finite("x", 3, high=2)
    with pytest.raises(ValueError, match=r"^x: must be >= 1, got 0"):
        check_finite("x", 0, low=1)
    with pytest.raises(ValueError, match=r"^x: must be a finite number, got nan"):
        check_finite("x", NAN)
    with pytest.raises(ValueError, match=r"^n: must be an integer, got True \(bool\)"):
        check_positive("n", True, integer=True)
    with pytest.raises(ValueError, match=r"^n: must be a positive integer, got 0"):
        check_positive("n", 0, integer=True)
    with pytest.raises(ValueError, match=r"^c: must be non-negative, got -1"):
        check_non_negative("c", -1)
    with pytest.raises(ValueError, match=r"^b: must be True or False, got 'no' \(str\)"):
        check_bool("b", "no")
    with pytest.raises(ValueError, match=r"^k: must be one of 'a', 'b', got 'c' \(str\)"):
        check_choice("k", "c", ("a", "b"))
    with pytest.raises(ValueError, match=r"^h\[1\]: must be a positive integer, got 0"):
        check_sizes("h", (4, 0))
    with pytest.raises(ValueError, match=r"^p: must be a PPOConfig, got 3 \(int\)"):
        check_instance("p", 3, PPOConfig)
    # Valid values pass silently.
    check_finite("x", 0.5, low=0, high=1, low_open=True, high_open=True)
    check_positive("n", np.int16(3), integer=True)
    check_bool("b", np.bool_(True))
    check_sizes("h", (64, 64))


def test_gsl_refuses_a_schedule_without_a_horizon():
    with pytest.raises(ValueError, match="^gsl.ppo.lr_schedule: 'linear' needs"):
        GSLConfig(ppo=PPOConfig(lr_schedule="linear"))
    assert GSLConfig(ppo=PPOConfig(lr_schedule="linear", lr_decay_updates=10)).ppo.lr_decay_updates
