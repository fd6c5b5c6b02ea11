"""Checkpoints of any pytree of arrays with orbax-checkpoint, plus a JSON metadata record.

Layout: ``ckpt_dir/000012/`` holds the orbax checkpoint (``state/``) and ``meta.json``. A
checkpoint is written under a temporary name and renamed into place only once orbax has finished
and the metadata is on disk, so a run killed mid-save leaves at most a ``*.partial`` folder that
:func:`latest_checkpoint` ignores: resuming always starts from the last *complete* checkpoint.

A checkpoint folder that is damaged after the fact (its ``meta.json`` missing, truncated or
overwritten, its arrays truncated) raises :class:`DamagedCheckpoint` naming the folder;
:func:`restore_newest` then falls back to the previous complete checkpoint, moving the damaged
ones aside (``000012.damaged``) so that the resumed run can write its own.

PRNG keys (typed ``jax.random.key`` arrays) are stored as their raw key data and re-wrapped on
restore, since orbax stores plain arrays.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import jax
import numpy as np
import orbax.checkpoint as ocp

_PARTIAL = ".partial"
_DAMAGED = ".damaged"
T = TypeVar("T")


class DamagedCheckpoint(ValueError):
    """A checkpoint folder that cannot be read back; the message names the folder."""


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _to_storable(tree: Any) -> Any:
    return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def _from_storable(stored: Any, like: Any) -> Any:
    return jax.tree.map(
        lambda s, x: jax.random.wrap_key_data(s, impl=jax.random.key_impl(x)) if _is_key(x) else s,
        stored,
        like,
    )


def save_checkpoint(ckpt_dir: str | Path, index: int, tree: Any, meta: dict[str, Any]) -> Path:
    """Write checkpoint ``index`` of ``tree`` with ``meta`` (JSON-serialisable) atomically.

    Raises ``FileExistsError`` if a complete checkpoint with that index exists already.
    """
    ckpt_dir = Path(ckpt_dir)
    final = ckpt_dir / f"{index:06d}"
    if final.exists():
        raise FileExistsError(f"checkpoint {final} exists already; not overwriting it")
    partial = ckpt_dir / f"{index:06d}{_PARTIAL}"
    if jax.process_count() > 1:
        return _save_multiprocess(partial, final, tree, meta)
    if partial.exists():
        shutil.rmtree(partial)  # left by a run killed while saving
    with _sigint_deferred():  # Ctrl-C lands after the save: no half-written checkpoint
        partial.mkdir(parents=True)
        checkpointer = ocp.StandardCheckpointer()
        checkpointer.save((partial / "state").absolute(), _to_storable(jax.device_get(tree)))
        checkpointer.wait_until_finished()
        (partial / "meta.json").write_text(json.dumps(meta, indent=1, default=_json_default))
        partial.rename(final)
    return final


def _save_multiprocess(partial: Path, final: Path, tree: Any, meta: dict[str, Any]) -> Path:
    """:func:`save_checkpoint` in a multi-process run (:mod:`gsl_jax.distributed`): every process
    writes its shards through orbax; process 0 alone prepares the folder and, once every process
    is done, writes ``meta.json`` and renames the folder into place."""
    from gsl_jax import distributed

    name = final.name
    distributed.barrier(f"checkpoint {name}: checked")  # nobody sees process 0's rename early
    with _sigint_deferred():
        if distributed.is_main_process():
            if partial.exists():
                shutil.rmtree(partial)
            partial.mkdir(parents=True)
        distributed.barrier(f"checkpoint {name}: folder")
        checkpointer = ocp.StandardCheckpointer()
        checkpointer.save((partial / "state").absolute(), distributed.to_global(_to_storable(tree)))
        checkpointer.wait_until_finished()
        distributed.barrier(f"checkpoint {name}: arrays")
        if distributed.is_main_process():
            (partial / "meta.json").write_text(json.dumps(meta, indent=1, default=_json_default))
            partial.rename(final)
        distributed.barrier(f"checkpoint {name}: done")
    return final


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold a SIGINT that arrives inside the block and deliver it on leaving (orbax's background
    writers must not be cut off mid-save; Python handles signals in the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(signal.SIGINT, None)


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")


def list_checkpoints(ckpt_dir: str | Path) -> list[Path]:
    """Complete checkpoints in ``ckpt_dir``, oldest first."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return []
    found = [
        p
        for p in ckpt_dir.iterdir()
        if p.is_dir() and p.name.isdigit() and (p / "meta.json").exists()
    ]
    return sorted(found, key=lambda p: int(p.name))


def checkpoint_folders(ckpt_dir: str | Path) -> list[Path]:
    """Every numbered checkpoint folder in ``ckpt_dir``, complete or not, oldest first."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return []
    found = [p for p in ckpt_dir.iterdir() if p.is_dir() and p.name.isdigit()]
    return sorted(found, key=lambda p: int(p.name))


def restore_newest(
    ckpt_dir: str | Path, restore: Callable[[Path], T], log: Callable[[str], None] = print
) -> tuple[Path, T] | None:
    """``(path, restore(path))`` of the newest checkpoint folder that restores, or ``None``
    when there is none.

    A newer folder that raises :class:`DamagedCheckpoint` is reported through ``log`` and, once
    an older one restored, renamed to ``<name>.damaged`` (kept for inspection, out of the way of
    the resumed run's own checkpoint of that index). If every folder is damaged the error of the
    newest is raised: nothing is moved. Other errors (a checkpoint of another env) propagate.
    """
    damaged: list[tuple[Path, DamagedCheckpoint]] = []
    for path in reversed(checkpoint_folders(ckpt_dir)):
        try:
            out = restore(path)
        except DamagedCheckpoint as err:
            damaged.append((path, err))
            continue
        for bad, err in damaged:
            if jax.process_index() != 0:  # process 0 moves it; the others only skip it
                continue
            aside = bad.with_name(bad.name + _DAMAGED)
            n = 1
            while aside.exists():
                aside, n = bad.with_name(f"{bad.name}{_DAMAGED}{n}"), n + 1
            bad.rename(aside)
            log(f"{err}; moved it to {aside.name} and fell back to {path}")
        return path, out
    if damaged:
        raise damaged[0][1]
    return None


def latest_checkpoint(ckpt_dir: str | Path) -> Path | None:
    """The newest complete checkpoint, or ``None``."""
    found = list_checkpoints(ckpt_dir)
    return found[-1] if found else None


def read_meta(path: str | Path) -> dict[str, Any]:
    """The metadata record of checkpoint ``path``; ``ValueError`` naming the file if unreadable."""
    meta_path = Path(path) / "meta.json"
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise DamagedCheckpoint(f"checkpoint {path} is damaged (no meta.json)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DamagedCheckpoint(
            f"checkpoint {path} is damaged (meta.json unreadable: {err})"
        ) from None
    if not isinstance(meta, dict):
        raise DamagedCheckpoint(f"checkpoint {path} is damaged (meta.json is not an object)")
    return meta


def restore_checkpoint(path: str | Path, like: Any) -> tuple[Any, dict[str, Any]]:
    """Restore the pytree saved at ``path`` into the structure, shapes and dtypes of ``like``.

    Returns ``(tree, meta)``. Raises ``ValueError`` naming the checkpoint when it does not match
    ``like`` (a foreign or corrupt checkpoint, or one from a different configuration).
    """
    path = Path(path)
    meta = read_meta(path)
    if not (path / "state").is_dir():
        raise DamagedCheckpoint(f"checkpoint {path} is damaged (no state/ folder)")
    storable_like = _to_storable(like)
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, storable_like)
    multiprocess = jax.process_count() > 1
    if multiprocess:  # every process reads the whole tree (replicated), then keeps it local
        from gsl_jax import distributed

        abstract = distributed.replicated_like(abstract)
    try:
        stored = ocp.StandardCheckpointer().restore((path / "state").absolute(), abstract)
        if multiprocess:
            stored = distributed.to_local(stored)
    except Exception as err:  # orbax raises many types for structure/shape mismatches
        raise DamagedCheckpoint(
            f"checkpoint {path} is damaged or not this run's ({type(err).__name__}: "
            f"{str(err)[:200]})"
        ) from None
    for got, want in zip(jax.tree.leaves(stored), jax.tree.leaves(abstract), strict=True):
        if got.shape != want.shape or got.dtype != want.dtype:
            raise ValueError(
                f"checkpoint {path}: an array of shape {got.shape} {got.dtype} where this run "
                f"has {want.shape} {want.dtype}"
            )
    return _from_storable(stored, like), meta
