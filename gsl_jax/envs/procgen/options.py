"""Validation of the constructor arguments every Procgen port shares."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np


def check_port_options(
    game: str,
    options: Mapping[str, Any],
    known: Iterable[str],
    distribution_mode: str,
    modes: Iterable[str],
    obs_mode: str,
    obs_modes: Iterable[str],
    timeout: Any,
) -> None:
    """Raise ``ValueError`` naming the argument for an unknown option, an unsupported
    ``distribution_mode`` or ``obs_mode``, or a ``timeout`` that is not a positive int."""
    if options:
        name = sorted(options)[0]
        names = list(known)
        raise ValueError(
            f"{name}: unknown {game} option; known options are {', '.join(names[:-1])} "
            f"and {names[-1]}"
        )
    modes = list(modes)
    if distribution_mode not in modes:
        raise ValueError(
            f"distribution_mode: {distribution_mode!r} is not supported by {game}; "
            f"choose one of {modes}"
        )
    obs_modes = list(obs_modes)
    if obs_mode not in obs_modes:
        raise ValueError(f"obs_mode: {obs_mode!r} is not one of {obs_modes}")
    if isinstance(timeout, bool) or not isinstance(timeout, int | np.integer) or timeout < 1:
        raise ValueError(f"timeout: must be a positive int, got {timeout!r}")
