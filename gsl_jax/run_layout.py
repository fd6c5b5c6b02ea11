"""Run directories of ``gsl-jax train --method gsl|ppo``, ``gsl-jax ppo`` and the library drivers,
built on :class:`gsl_jax.rundir.RunDirectory` (its manifest ``run.json`` records the command, the
spec and every file the run wrote).

Layout (the same for every command)::

    run_dir/run.json        the manifest: command, spec, files written (gsl_jax.rundir)
    run_dir/config.json     {"method", "env", "env_spec", "config"}: how to rebuild the run
    run_dir/checkpoints/    orbax checkpoints (gsl_jax.checkpoint); meta holds the Progress and
                            the env spec
    run_dir/metrics.jsonl   one record per chunk; a resume cuts it after the last checkpointed
                            record and appends (earlier records keep their step and time)
    run_dir/tb/             TensorBoard events
    run_dir/events.log      readable event lines (GSL)
    run_dir/demos.npz       the demonstrations (GSL)
    run_dir/result.json     the summary, written when the run ends

The spec of a run is its ``config.json`` record (:func:`run_spec`). A fresh run starts only in a
new or empty directory; a resume refuses another command's run, a differing spec (naming the
dotted field, e.g. ``env_spec.options.seed``) and any file the run did not write. A checkpoint
whose saved env spec differs from the run's is refused by :func:`check_env_spec`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gsl_jax.rundir import MANIFEST, RunDirectory, RunDirError, spec_differences

__all__ = [
    "RunDirError",
    "check_env_spec",
    "env_from_spec",
    "load_run",
    "open_run",
    "read_json",
    "read_run_config",
    "start_run",
    "write_result",
]


def read_json(path: Path, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON object in ``path``; ``ValueError`` naming the file (and the missing key of
    ``keys``) when it is unreadable, truncated or malformed."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: unreadable or truncated JSON ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    for key in keys:
        if key not in data:
            raise ValueError(f"{path}: malformed (no key {key!r})")
    return data


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    """The saved ``config.json`` of ``run_dir`` (``method`` defaults to ``"gsl"``, for runs
    written before PPO runs had directories)."""
    path = Path(run_dir) / "config.json"
    if Path(run_dir).is_file():
        raise ValueError(f"run_dir: {run_dir} is a file, not a run directory")
    if not path.exists():
        raise FileNotFoundError(f"run_dir: {run_dir} holds no run (no config.json)")
    saved = read_json(path, ("env", "config"))
    saved.setdefault("method", "gsl")
    for key in ("config", "env_spec"):
        if not isinstance(saved.get(key, {}), dict):
            raise ValueError(f"{path}: malformed (key {key!r} is not an object)")
    return saved


def run_spec(method: str, env_name: str, env_spec: dict | None, config: dict) -> dict[str, Any]:
    """The spec of a run: its ``config.json`` record, the config under ``"gsl"`` for a GSL run
    (so that a differing field is named as its ``--gsl.*`` option is)."""
    key = "gsl" if method == "gsl" else "config"
    return {"method": method, "env": env_name, "env_spec": env_spec or {}, key: config}


def _config_record(spec: dict[str, Any]) -> dict[str, Any]:
    """The ``config.json`` record of a run spec."""
    record = dict(spec)
    if "gsl" in record:
        record["config"] = record.pop("gsl")
    return record


def open_run(
    run_dir: str | Path | None, resume: bool, command: str, spec: dict[str, Any]
) -> RunDirectory | None:
    """Claim ``run_dir`` for a fresh run of ``command`` (a new or empty directory) or reopen it
    for a resume (same command, same spec, no foreign file); ``None`` without a ``run_dir``.
    Raises :class:`~gsl_jax.rundir.RunDirError` naming the path, file or field at fault."""
    if run_dir is None:
        if resume:
            raise ValueError("resume: needs a run_dir")
        return None
    run_dir = Path(run_dir)
    if not resume:
        run = RunDirectory.create(run_dir, command, spec)
        run.write_json("config.json", _config_record(spec))
        return run
    old = (run_dir / "config.json").exists() and not (run_dir / MANIFEST).exists()
    if run_dir.is_dir() and old:
        raise RunDirError(
            f"run_dir: {run_dir} was written by an older gsl_jax (config.json but no "
            f"{MANIFEST}); it cannot be resumed safely: start a new run directory (eval still "
            "reads it)"
        )
    return RunDirectory.reopen(run_dir, command, spec)


def load_run(run_dir: str | Path) -> dict[str, Any]:
    """``config.json`` of a finished or running run, checked against its manifest when it has
    one (an edited ``config.json`` is refused, naming the field)."""
    saved = read_run_config(run_dir)
    manifest = Path(run_dir) / MANIFEST
    if manifest.exists():
        record = read_json(manifest, ("spec",))
        diffs = spec_differences(record["spec"], run_spec(**_spec_args(saved)))
        if diffs:
            field, a, b = diffs[0]
            raise RunDirError(
                f"{field}: {Path(run_dir) / 'config.json'} says {b!r} but the run was started "
                f"with {a!r} ({MANIFEST}); the config was edited after the run began"
            )
    return saved


def _spec_args(saved: dict[str, Any]) -> dict[str, Any]:
    return {
        "method": saved["method"],
        "env_name": saved["env"],
        "env_spec": saved.get("env_spec"),
        "config": saved["config"],
    }


def env_from_spec(spec: dict[str, Any]) -> Any:
    """The env a run's ``env_spec`` describes: by its ``backend``, ``"jax"`` (or none:
    :func:`gsl_jax.envs.registry.make_env`), ``"envpool"`` (a host env template,
    :meth:`gsl_jax.envs.envpool.EnvPoolProcgen.from_spec`) or ``"metaworld"``
    (:class:`gsl_jax.envs.metaworld.MetaWorldVecEnv`, ``name`` the benchmark); ``ValueError``
    naming ``env_spec.backend`` for another."""
    backend, options = spec.get("backend", "jax"), spec.get("options", {})
    if backend == "envpool":
        from gsl_jax.envs.envpool import EnvPoolProcgen

        return EnvPoolProcgen.from_spec(spec)
    if backend == "metaworld":
        from gsl_jax.envs.metaworld import MetaWorldVecEnv

        return MetaWorldVecEnv(spec["name"], **options)
    if backend != "jax":
        raise ValueError(f"env_spec.backend: unknown backend {backend!r} (jax, envpool, metaworld)")
    from gsl_jax.envs.registry import make_env

    return make_env(spec["name"], **options)


def check_env_spec(path: Path, meta: dict[str, Any], env_spec: dict[str, Any] | None) -> None:
    """Refuse checkpoint ``path`` when the env spec in its metadata differs from ``env_spec``
    (naming the field); checkpoints written before the spec was saved pass."""
    saved = meta.get("env_spec")
    if saved is None or env_spec is None:
        return
    diffs = spec_differences(saved, json.loads(json.dumps(env_spec)), "env_spec.")
    if diffs:
        field, a, b = diffs[0]
        raise ValueError(
            f"{field}: checkpoint {path} was written on {a!r}, this run gives {b!r}; "
            "a run never continues on another environment"
        )


def start_run(
    run: RunDirectory | None,
    records: tuple[dict[str, Any], ...],
    events: tuple[str, ...] | None = None,
) -> None:
    """Make ``metrics.jsonl`` hold exactly the records of the checkpoint being resumed (cut
    after them, each kept as written; new ones are appended) and ``events.log`` its events;
    claim the folders the run writes. Chunks that ran after the last checkpoint of a killed run
    are dropped and will be logged again."""
    if run is None:
        return
    kept = run.metrics_after("metrics.jsonl", len(records))
    if len(kept) < len(records):  # an older run's log, or one cut by hand: rewrite the rest
        run.append_lines("metrics.jsonl", [json.dumps(r) for r in records[len(kept) :]])
    for name in ("checkpoints", "tb"):
        run.claim(name)
    if events is not None:
        run.write_text("events.log", "".join(line + "\n" for line in events))


def write_result(run: RunDirectory | None, summary: dict[str, Any]) -> None:
    """Write ``result.json`` unless the run wrote it already (a resumed finished run keeps
    its own)."""
    kept = run is not None and "result.json" in run.files() and (run.path / "result.json").exists()
    if run is not None and not kept:
        run.write_json("result.json", summary)
