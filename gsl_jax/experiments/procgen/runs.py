"""The experiment's runs: GSL and its PPO baseline per (game, seed), on the JAX ports or EnvPool.

:func:`run_experiment` runs (or resumes) the whole experiment in a run directory; per (game,
seed) it trains GSL (:func:`gsl_jax.gsl.run_gsl`), then PPO from GSL's branch point to GSL's
total env-steps (:func:`~.baseline.run_baseline`, the library's chunk loop), then evaluates
(:mod:`~.evaluate`).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from gsl_jax.checkpoint import latest_checkpoint, read_meta
from gsl_jax.experiments.procgen import results as res
from gsl_jax.experiments.procgen.baseline import run_baseline, steps_done
from gsl_jax.experiments.procgen.evaluate import (
    Context,
    evaluate_run,
    save_params,
)
from gsl_jax.experiments.procgen.presets import validate_settings
from gsl_jax.experiments.procgen.settings import (
    Settings,
    chunk_steps,
    env_options,
    gsl_config,
    round_up,
)
from gsl_jax.gsl import run_gsl
from gsl_jax.gsl_branch import branch_point
from gsl_jax.phases import make_run_builder


class Progress:
    """A tqdm bar of total env-steps over all runs, its label the current run and phase."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="step", unit_scale=True, dynamic_ncols=True)
        self.done = 0
        self.start = time.perf_counter()

    def label(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_description(text, refresh=True)

    def advance(self, steps: int) -> None:
        self.done += steps
        if self.bar is not None:
            if self.done > self.bar.total:
                self.bar.total = self.done
            self.bar.update(steps)

    def retotal(self, total: int) -> None:
        if self.bar is not None:
            self.bar.total = max(total, self.done)
            self.bar.refresh()

    def write(self, text: str) -> None:
        text = f"[{time.perf_counter() - self.start:7.1f} s] {text}"
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _donor(branch_from: str | Path | None, game: str, seed: int) -> Path | None:
    """The GSL run of (game, seed) in experiment ``branch_from`` if its phase I is done."""
    if branch_from is None:
        return None
    donor = Path(branch_from) / res.run_path(game, seed, "gsl")
    try:
        branch_point(donor)
    except FileNotFoundError:
        return None
    return donor


def run_pair(
    env: Any,
    game: str,
    seed: int,
    s: Settings,
    sub: Path,
    bar: Progress,
    spec: dict[str, Any],
    donor: Path | None = None,
) -> None:
    """GSL, then PPO from its branch point, then ``eval.json``, of one (game, seed) in ``sub``;
    each part skipped if finished and resumed from its checkpoints otherwise. ``env`` is a JAX
    port or a host env template (:func:`envpool_template`; :mod:`gsl_jax.host`), ``spec`` how
    to rebuild it; ``donor``, a GSL run whose phase I this one takes over."""
    config = gsl_config(s, seed)
    ctx = Context(env, config)
    gsl_dir, ppo_dir = sub / "gsl", sub / "ppo"
    budget = s.steps
    branch = None
    if "gsl" in s.methods:
        # a resumed run restarts at its last checkpoint: count the steps done up to there
        latest = latest_checkpoint(gsl_dir / "checkpoints")
        seen = [read_meta(latest)["progress"]["total_steps"] if latest is not None else 0]
        bar.advance(seen[0])
        bar.label(f"{game} seed {seed} GSL phase1")

        def on_record(record: dict[str, Any]) -> None:
            bar.label(f"{game} seed {seed} GSL {record['phase']}")
            bar.advance(record["total_steps"] - seen[0])
            seen[0] = record["total_steps"]

        result = run_gsl(
            env,
            config,
            run_dir=gsl_dir,
            resume=(gsl_dir / "config.json").exists(),
            checkpoint_every=s.checkpoint_every,
            progress=False,
            log=lambda m: bar.write(f"[{game} seed {seed} GSL] {m}"),
            on_record=on_record,
            env_spec=spec,
            branch_from=donor,
        )
        budget = int(result.records[-1]["total_steps"])
        bar.advance(budget - seen[0])
        branch = branch_point(gsl_dir)
    if "ppo" in s.methods:
        total = ppo_budget(s, budget)
        # The bar counts env-steps computed: PPO's share of GSL's phase I is not run again.
        shared = read_meta(branch)["progress"]["generalist_steps"] if branch is not None else 0
        resumed = steps_done(ppo_dir, chunk_steps(s))
        resumed = shared if resumed is None else resumed
        bar.retotal(bar.done + total - shared + _remaining_estimate(s, game, seed))
        bar.advance(resumed - shared)
        bar.label(f"{game} seed {seed} PPO")
        if not (ppo_dir / "result.json").exists():
            bar.write(
                f"[{game} seed {seed} PPO] {total - resumed:,} env-steps to go after "
                f"{resumed:,} ({shared:,} shared with GSL's phase I); budget {total:,}"
            )
            seen_ppo = [resumed]

            def advance(record: dict[str, Any]) -> None:  # a budget's last chunk may be short
                bar.advance(record["total_steps"] - seen_ppo[0])
                seen_ppo[0] = record["total_steps"]

            run_baseline(ctx, total, ppo_dir, branch, s.checkpoint_every, advance, spec)
    if not (sub / "eval.json").exists():
        bar.label(f"{game} seed {seed} evaluating")
        bar.write(
            f"[{game} seed {seed}] evaluating on {s.num_levels} training and "
            f"{s.heldout_levels} held-out levels"
        )
        res.write_json(sub / "eval.json", evaluate_run(ctx, s, sub, seed))


def ppo_budget(s: Settings, gsl_total: int) -> int:
    """The PPO baseline's env-steps: with ``s.fixed_budget``, exactly ``s.steps`` (the study's
    B, docs/gsl_protocol.md amendment 1.3; :func:`~.baseline.run_baseline` trains it to the
    update); otherwise GSL's total ``gsl_total`` (``s.steps`` for PPO alone) rounded up to
    whole chunks."""
    return s.steps if s.fixed_budget else round_up(gsl_total, chunk_steps(s))


def _remaining_estimate(s: Settings, game: str, seed: int) -> int:
    """Estimated env-steps of the (game, seed) pairs after this one."""
    pairs = [(g, x) for g in s.games for x in s.seeds]
    later = len(pairs) - 1 - pairs.index((game, seed))
    return later * _pair_estimate(s)


def _pair_estimate(s: Settings) -> int:
    """Env-steps computed for one (game, seed): GSL's budget, plus PPO's beyond the phase I it
    shares with GSL (the bar's total is corrected as the phases' real lengths become known)."""
    if len(s.methods) == 1:
        return s.steps
    return int(s.steps * (2 - s.phase1_fraction))


def _write_envpool_config(ppo_dir: Path, game: str, seed: int, s: Settings) -> None:
    """``config.json`` of a version-1 EnvPool PPO run (written before EnvPool runs went through
    the chunk loop): what :mod:`gsl_jax.report` reads the network from."""
    if not (ppo_dir / "config.json").exists():
        saved = {
            "env": game,
            "env_spec": envpool_spec(game, s),
            "config": gsl_config(s, seed).to_dict(),
        }
        res.write_json(ppo_dir / "config.json", saved)


def envpool_template(game: str, seed: int, s: Settings) -> Any:
    """The EnvPool env GSL and the baseline build their batches from (:mod:`gsl_jax.host`):
    ``game`` in ``s.distribution_mode`` on the training levels."""
    from gsl_jax.envs.envpool import EnvPoolProcgen

    B = s.gsl.ppo.num_envs
    return EnvPoolProcgen(
        game, s.distribution_mode, num_envs=B, levels=range(s.num_levels), seed=seed * B
    )


def envpool_spec(game: str, s: Settings) -> dict[str, Any]:
    """The env spec of an EnvPool run (saved in its ``config.json`` and checkpoints)."""
    return {
        "name": game,
        "backend": "envpool",
        "options": {"distribution_mode": s.distribution_mode},
    }


def _write_final_params(sub: Path, game: str, seed: int, s: Settings, env: Any) -> None:
    """``params.npz`` of each method's final policy (what :mod:`gsl_jax.report_gif` draws an
    EnvPool run's GIF from); the GSL run directory records it as its own file."""
    from gsl_jax.rundir import RunDirectory

    ctx = Context(env, gsl_config(s, seed))
    for method in s.methods:
        run_dir = sub / method
        if (run_dir / "params.npz").exists():
            continue
        path = latest_checkpoint(run_dir / "checkpoints")
        if method == "gsl":
            _, arrays = ctx.restore_gsl(path)
            target = RunDirectory.load(run_dir).claim("params.npz")
        else:
            arrays = {"generalist": ctx.restore_ppo(path)[0]}
            target = run_dir / "params.npz"
        save_params(target, jax.tree.map(lambda x: np.asarray(x[0]), arrays["generalist"].params))


def _finish(run_dir: Path, s: Settings, start: float, report: bool) -> dict[str, Any]:
    results = res.summarize(run_dir, s)
    results["seconds"] = time.perf_counter() - start
    res.write_json(run_dir / "results.json", results)
    res.print_table(results)
    if report:
        from gsl_jax.report import write_report

        print(f"drawing the report ({time.perf_counter() - start:.1f} s)", flush=True)
        for path in write_report(run_dir):
            print(f"wrote {path} ({time.perf_counter() - start:.1f} s)", flush=True)
    return results


def run_experiment(
    s: Settings,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    report: bool = True,
    branch_from: str | Path | None = None,
) -> dict[str, Any]:
    """Run (or resume) the whole experiment in ``run_dir``; returns ``results.json``'s content.

    Every check (settings, games, run directory) happens before anything trains. Resuming a
    finished run returns its results; one whose ``results.json`` predates the current schema
    (docs/run_directory.md) gets it rewritten from its evaluations, without training.

    ``branch_from``: another experiment's run directory; each GSL run whose (game, seed) has
    finished phase I there starts from it (``run_gsl(branch_from=...)``: the same result as
    from scratch; its config must agree on every field phase I reads, else ``ValueError``).
    """
    from gsl_jax.envs.registry import env_spec, make_env

    validate_settings(s)
    run_dir = Path(run_dir)
    if len(s.learners) > 1 and branch_from is not None:
        raise ValueError("branch_from: an experiment with several learners cannot branch")
    if len(s.learners) > 1:  # one whole experiment per base learner, in run_dir/<learner>
        return {
            learner: run_experiment(
                dataclasses.replace(s, learners=(learner,)),
                run_dir / learner,
                resume and (run_dir / learner / "experiment.json").exists(),
                progress,
                report,
            )
            for learner in s.learners
        }
    if res.prepare_run_dir(run_dir, s, resume):
        results = json.loads((run_dir / "results.json").read_text())
        if results.get("version") == res.RESULTS_VERSION:
            return results
        if s.backend == "envpool":  # version 1 wrote no config.json for these runs
            for game in s.games:
                for seed in s.seeds:
                    _write_envpool_config(run_dir / res.run_path(game, seed, "ppo"), game, seed, s)
        return _finish(run_dir, s, time.perf_counter() - results.get("seconds", 0.0), report)
    envs = {}
    if s.backend == "jax":
        envs = {g: make_env(g, **env_options(s)) for g in s.games}
    else:
        from gsl_jax.envs.envpool import envpool_unavailable_reason

        reason = envpool_unavailable_reason()
        if reason is not None:
            raise ImportError(f"backend: envpool is unavailable ({reason})")
        for seed in s.seeds:  # GSL's host checks (e.g. num_envs per level), before any write
            make_run_builder(envpool_template(s.games[0], seed, s), gsl_config(s, seed))
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / "experiment.json").exists():
        saved = {
            "kind": res.EXPERIMENT_KIND,
            "version": res.EXPERIMENT_VERSION,
            "settings": s.to_dict(),
            "command": " ".join(sys.argv),
        }
        res.write_json(run_dir / "experiment.json", saved)
    bar = Progress(_pair_estimate(s) * len(s.games) * len(s.seeds), progress)
    start = time.perf_counter()
    try:
        for game in s.games:
            for seed in s.seeds:
                sub = run_dir / res.run_path(game, seed)
                donor = _donor(branch_from, game, seed)
                if s.backend == "jax":
                    spec = env_spec(game, **env_options(s))
                    run_pair(envs[game], game, seed, s, sub, bar, spec, donor)
                else:
                    env = envpool_template(game, seed, s)
                    run_pair(env, game, seed, s, sub, bar, envpool_spec(game, s), donor)
                    _write_final_params(sub, game, seed, s, env)
                res.merge_metrics(run_dir, s)
    finally:
        bar.close()
    return _finish(run_dir, s, start, report)
