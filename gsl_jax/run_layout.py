"""Run directories shared by ``gsl-jax train --method gsl`` and ``--method ppo``.

Layout (the same for both methods)::

    run_dir/config.json     {"method", "env", "env_spec", "config"}: how to rebuild the run
    run_dir/checkpoints/    orbax checkpoints (gsl_jax.checkpoint); meta holds the Progress
    run_dir/metrics.jsonl   one record per chunk, exactly the checkpointed ones after a resume
    run_dir/tb/             TensorBoard events
    run_dir/events.log      readable event lines
    run_dir/result.json     the summary, written when the run ends

A fresh run refuses a directory that holds a run; ``resume`` refuses one that holds another
method's run, another env's or a different config (naming the fields that differ). (The stricter
manifest-based :class:`gsl_jax.rundir.RunDirectory` is meant to replace these checks.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gsl_jax.checkpoint import latest_checkpoint

_TAKEN = ("config.json", "checkpoints", "result.json", "metrics.jsonl")


def config_differences(saved: dict[str, Any], given: dict[str, Any], prefix: str = "") -> list:
    """``[(field, saved_value, given_value)]`` for every leaf field that differs."""
    out = []
    for key in sorted(set(saved) | set(given)):
        a, b = saved.get(key), given.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append((f"{prefix}{key}", a, b))
    return out


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    """The saved ``config.json`` of ``run_dir`` (``method`` defaults to ``"gsl"``, for runs
    written before PPO runs had directories)."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"run_dir: {run_dir} holds no run (no config.json)")
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: unreadable ({err})") from None
    if not isinstance(saved, dict) or "config" not in saved or "env" not in saved:
        raise ValueError(f"{path}: not a gsl_jax run config (no 'env' or 'config')")
    saved.setdefault("method", "gsl")
    return saved


def open_run_dir(
    run_dir: str | Path | None,
    resume: bool,
    method: str,
    env_name: str,
    config: dict[str, Any],
    prefix: str,
) -> tuple[Path | None, Path | None]:
    """Check ``run_dir`` for a fresh run or a resume; returns ``(run_dir, checkpoint)``, the
    checkpoint to resume from being ``None`` for a fresh run. Nothing is written here.

    ``prefix`` names the config's fields in messages (e.g. ``"gsl."``).
    """
    if run_dir is None:
        if resume:
            raise ValueError("resume: needs a run_dir")
        return None, None
    run_dir = Path(run_dir)
    if not resume:
        if any((run_dir / name).exists() for name in _TAKEN):
            raise FileExistsError(
                f"run_dir: {run_dir} already holds a run; resume it (resume=True, "
                "`gsl-jax train --resume DIR`) or choose another directory"
            )
        return run_dir, None
    saved = read_run_config(run_dir)
    if saved["method"] != method:
        raise ValueError(
            f"resume: {run_dir} holds a {saved['method']} run, not a {method} run; "
            "resume it with the same method"
        )
    if saved["env"] != env_name:
        raise ValueError(
            f"resume: {run_dir} was run on env {saved['env']!r}, this run is on {env_name!r}"
        )
    diffs = config_differences(saved["config"], config, prefix)
    if diffs:
        listed = "; ".join(f"{k}: saved {a!r}, given {b!r}" for k, a, b in diffs[:5])
        raise ValueError(
            f"resume: the config conflicts with the one saved in {run_dir / 'config.json'} "
            f"({listed}); resume with the saved config or start a new run_dir"
        )
    return run_dir, latest_checkpoint(run_dir / "checkpoints")


def start_run_dir(
    run_dir: Path | None,
    method: str,
    env_name: str,
    env_spec: dict[str, Any] | None,
    config: dict[str, Any],
    records: tuple[dict[str, Any], ...],
    events: tuple[str, ...] | None = None,
) -> None:
    """Create ``run_dir``, write ``config.json`` if it is new, and make ``metrics.jsonl`` and
    ``events.log`` (if ``events`` is given) hold exactly the checkpointed ``records`` and
    ``events``: chunks that ran after the last checkpoint of a killed run are dropped and will be
    logged again."""
    if run_dir is None:
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / "config.json").exists():
        saved = {"method": method, "env": env_name, "env_spec": env_spec or {}, "config": config}
        (run_dir / "config.json").write_text(json.dumps(saved, indent=1))
    _rewrite(run_dir / "metrics.jsonl", [json.dumps(r) for r in records])
    if events is not None:
        _rewrite(run_dir / "events.log", list(events))


def write_result(run_dir: Path | None, summary: dict[str, Any]) -> None:
    """Write ``result.json`` unless it exists (a resumed finished run keeps its own)."""
    if run_dir is not None and not (run_dir / "result.json").exists():
        (run_dir / "result.json").write_text(json.dumps(summary, indent=1))


def _rewrite(path: Path, lines: list[str]) -> None:
    """Replace ``path`` atomically with ``lines``."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in lines))
    tmp.replace(path)
