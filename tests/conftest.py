"""Test-session settings, and fixtures shared by the per-game Procgen test files.

A game's test module sets ``PORT`` to its port class and then asks for ``env`` / ``sym_env``
(pixel and compact observations, default options) and their jitted ``reset``, ``step``,
``sym_reset`` and ``sym_step``, each built and compiled once per module. A module that defines
a fixture of the same name uses its own.
"""

from __future__ import annotations

import os
from pathlib import Path

# The suite compiles the same XLA programs many times over: tiny GSL runs repeated with one
# setting changed, kill-and-resume subprocesses rerunning a config, xdist's two workers. JAX's
# persistent compilation cache (keyed by the program, the jax version and the flags, so a hit is
# the identical executable) lets each be compiled once per session. Set through the environment
# before jax starts so that the workers and test subprocesses share it; an existing setting wins.
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR",
    str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "jax_compilation_cache"),
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
# A size limit turns on the cache's file lock (the filelock package, in the dev extras), so that
# the two workers never read an entry the other is still writing. Without the lock a torn read
# is still safe: jax warns and compiles again.
try:
    import filelock  # noqa: F401
except ImportError:
    pass
else:
    os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(4 * 2**30))

import jax  # noqa: E402
import pytest  # noqa: E402


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
