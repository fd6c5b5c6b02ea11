"""Fixtures shared by the per-game Procgen test files.

A game's test module sets ``PORT`` to its port class and then asks for ``env`` / ``sym_env``
(pixel and compact observations, default options) and their jitted ``reset``, ``step``,
``sym_reset`` and ``sym_step``, each built and compiled once per module. A module that defines
a fixture of the same name uses its own.
"""

from __future__ import annotations

import jax
import pytest


def _port_class(request: pytest.FixtureRequest) -> type:
    port = getattr(request.module, "PORT", None)
    if port is None:
        raise pytest.UsageError(f"{request.module.__name__} uses a port fixture but sets no PORT")
    return port


@pytest.fixture(scope="module")
def env(request):
    return _port_class(request)()


@pytest.fixture(scope="module")
def sym_env(request):
    return _port_class(request)(obs_mode="symbolic")


@pytest.fixture(scope="module")
def reset(env):
    return jax.jit(env.reset)


@pytest.fixture(scope="module")
def step(env):
    return jax.jit(env.step)


@pytest.fixture(scope="module")
def sym_reset(sym_env):
    return jax.jit(sym_env.reset)


@pytest.fixture(scope="module")
def sym_step(sym_env):
    return jax.jit(sym_env.step)
