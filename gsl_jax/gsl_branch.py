"""Branch a GSL run from another run's phase I (``run_gsl(..., branch_from=RUN_DIR)``).

Phase I reads only a few of :class:`~gsl_jax.gsl_config.GSLConfig`'s fields (:data:`PHASE1_FIELDS`:
the base learner's settings, the network, criterion H, the training variations, the chunk size
and the seed); every key a later phase draws comes from the seed too. Two runs that agree on
those fields and on the environment therefore train the very same phase I, and a run may start
from another's checkpoint at the end of phase I (the *branch point*, the first checkpoint
written after it) instead of training phase I again: the result is the one a run from scratch
gives (tested). Ablations of what GSL does after phase I (the DAPG form, the population, cycles,
the budget split after phase I) then cost only what comes after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gsl_jax.checkpoint import list_checkpoints, read_meta
from gsl_jax.gsl_config import GSLConfig

#: The fields of :class:`GSLConfig` phase I depends on (with the environment).
PHASE1_FIELDS = (
    "ppo",
    "learner",
    "ppg",
    "network",
    "plateau",
    "num_train_variations",
    "updates_per_chunk",
    "seed",
)


def branch_point(run_dir: str | Path) -> Path:
    """The checkpoint of GSL run ``run_dir`` at the end of phase I: the first one written after
    it (phase I's last chunk is in it; the next phase has not started).

    Raises:
        FileNotFoundError: naming ``run_dir`` if it has no checkpoint after phase I yet.
    """
    for path in list_checkpoints(Path(run_dir) / "checkpoints"):
        if read_meta(path)["progress"]["phase"] != "phase1":
            return path
    raise FileNotFoundError(f"branch_from: {run_dir} has no checkpoint after phase I")


def check_branch(source: GSLConfig, config: GSLConfig, where: str | Path) -> None:
    """``ValueError`` naming the first field of :data:`PHASE1_FIELDS` on which ``config``
    differs from ``source`` (the config of the run at ``where``)."""
    a, b = source.to_dict(), config.to_dict()
    for name in PHASE1_FIELDS:
        if a[name] != b[name]:
            detail = _first_difference(a[name], b[name], f"gsl.{name}")
            raise ValueError(
                f"{detail}: branch_from {where} trained phase I with another value; a run "
                f"branches only from a phase I it would train itself ({', '.join(PHASE1_FIELDS)})"
            )


def _first_difference(a: Any, b: Any, path: str) -> str:
    """``path`` narrowed to the first nested field where ``a`` and ``b`` differ, with both."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a:
            if a[key] != b.get(key):
                return _first_difference(a[key], b.get(key), f"{path}.{key}")
    return f"{path} ({a!r} there, {b!r} here)"
