"""PPO vs PPO+GSL on Meta-World MT-10 (MT-50 with --mt50) at equal total env-steps.

    python benchmarks/metaworld_gsl.py --preset smoke --methods ppo   # minutes: the pipeline
    python benchmarks/metaworld_gsl.py --preset cpu                   # ~2 h on 2 CPU cores
    python benchmarks/metaworld_gsl.py --preset paper --mt50          # bigger machines
    python benchmarks/metaworld_gsl.py --preset cpu --resume          # continue an interrupted run
    python benchmarks/metaworld_gsl.py --report runs/metaworld_gsl_cpu   # redraw the figures

Both arms use the GSL release's configuration (gsl_jax.experiments.metaworld: Gaussian MLP
(512, 512) with std in [0.5, 1.5], PPO as in garage, DAPG 0.5 / 4 / 64) on the host env
gsl_jax.envs.metaworld.MetaWorldVecEnv (one env per task, reward v2, 500-step episodes). Per seed,
GSL runs first (phase I, one specialist per task, demos, phase II: budgets cut from --steps);
PPO then gets exactly the total env-steps GSL used (specialists, selection and demo rollouts
included). Each seed draws its own 50 goals per task (``benchmark_seed = seed``), the same for
both arms. Evaluation is the benchmark's protocol: per task, one episode per goal (the first
``eval_goals`` of the 50) with the policy's mean action, success if the flag is set at any step.

Run directory: ``experiment.json`` (the settings; --resume refuses other ones), one directory per
run (``<method>_seed<k>``: ``metrics.jsonl``, GSL's checkpoints, ``eval.json``), ``results.json``
(every run's per-task success, the mean +- std per method, the published numbers beside them),
``learning_curves.png`` (return and success against total env-steps, GSL's phases marked:
gsl_jax.report.plot_curves) and ``task_heatmap.png`` (success per task, run and method).
Resuming skips finished runs (``eval.json`` written) and continues GSL and PPO from their last
checkpoints (both on host envs re-seeded as at their start, gsl_jax.host; an unfinished PPO run
written before PPO runs checkpointed is started again).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from gsl_jax.envs.metaworld import MetaWorldVecEnv, evaluate_success, task_names
from gsl_jax.experiments.metaworld import budget_split, released_gsl
from gsl_jax.experiments.procgen.results import read_jsonl, write_json
from gsl_jax.gsl import GSLConfig
from gsl_jax.report import _plt, plot_curves
from gsl_jax.rundir import MANIFEST

#: Published success rates (%, mean +- std over 3-5 seeds; GSL paper, quoted by UniDexGrasp++,
#: arXiv 2304.00464, Table 3). Budgets are not stated there.
PUBLISHED = {
    "MT10": {"ppo": (58.4, 10.1), "gsl": (77.5, 2.9)},
    "MT50": {"ppo": (31.1, 4.5), "gsl": (43.5, 2.2)},
}
METHODS = ("gsl", "ppo")


@dataclasses.dataclass(frozen=True)
class Preset:
    """Settings of one experiment size.

    Attributes:
        steps: env-steps of GSL per seed, cut into phase I (``phase1_fraction``), the
            specialists together (``specialist_fraction``) and phase II (the rest); PPO gets
            what GSL used (``steps`` when GSL does not run).
        seeds: run seeds (learners, envs, and each seed's own 50 goals per task).
        eval_goals: goals per task in the final evaluation (the benchmark uses all 50).
        num_steps, hidden, update_epochs: rollout length per update, MLP sizes and epochs (the
            release: 128-step rollouts of 10 envs = 1,280 env-steps, (512, 512), 10).
        max_episode_steps: Meta-World's 500 (shorter only for the smoke test).
        updates_per_chunk, demo_episodes: GSL's chunk size and demo episodes per task.
    """

    steps: int
    seeds: tuple[int, ...]
    eval_goals: int
    num_steps: int = 128
    hidden: tuple[int, ...] = (512, 512)
    update_epochs: int = 10
    max_episode_steps: int = 500
    phase1_fraction: float = 0.45
    specialist_fraction: float = 0.3
    updates_per_chunk: int = 5
    demo_episodes: int = 10


PRESETS = {
    # the whole pipeline in minutes: tiny network, 100-step episodes, one goal per task
    "smoke": Preset(
        steps=12_800,
        seeds=(0,),
        eval_goals=1,
        num_steps=64,
        hidden=(64, 64),
        update_epochs=2,
        max_episode_steps=100,
        updates_per_chunk=2,
        demo_episodes=1,
    ),
    # ~2 h on 2 CPU cores (docs/metaworld.md has the measured rate it was sized from)
    "cpu": Preset(steps=500_000, seeds=(0, 1, 2), eval_goals=10),
    # the released configuration at a budget for accelerator hosts with many CPU cores
    "paper": Preset(steps=20_000_000, seeds=(0, 1, 2, 3, 4), eval_goals=50, updates_per_chunk=20),
}


def gsl_config(p: Preset, num_tasks: int, seed: int) -> GSLConfig:
    """The GSL config of one seed: the released presets with ``p``'s sizes and budgets."""
    chunk = p.updates_per_chunk * num_tasks * p.num_steps
    split = budget_split(p.steps, num_tasks, p.phase1_fraction, p.specialist_fraction, chunk)
    config = released_gsl(num_tasks, num_steps=p.num_steps, seed=seed, **split)
    return dataclasses.replace(
        config,
        ppo=config.ppo.replace(update_epochs=p.update_epochs),
        network=dataclasses.replace(config.network, hidden=p.hidden),
        updates_per_chunk=p.updates_per_chunk,
        demo_steps=p.max_episode_steps,
        specialist_demo_episodes=p.demo_episodes * num_tasks,
        generalist_demo_episodes=p.demo_episodes,
    )


def make_env(benchmark: str, p: Preset, seed: int, env_seed: int = 0) -> MetaWorldVecEnv:
    """One env per task; goals of ``benchmark_seed = seed``."""
    return MetaWorldVecEnv(
        benchmark, seed=env_seed, benchmark_seed=seed, max_episode_steps=p.max_episode_steps
    )


def mean_action(network: Any, params: Any):
    """``act(obs [N, D]) -> action [N, 4]``: the Gaussian's mean, the deterministic action."""
    apply = jax.jit(lambda obs: network.apply(params, obs)[0].mean)
    return lambda obs: np.asarray(apply(obs))


# ------------------------------------------------------------------------------------------------
# One run of each arm
# ------------------------------------------------------------------------------------------------
def run_gsl_arm(benchmark: str, p: Preset, seed: int, run: Path, resume: bool):
    """GSL through the library driver on the host env (needs gsl_jax.host). Returns
    ``(network, params, total env-steps)``."""
    from gsl_jax.gsl import run_gsl

    num_tasks = 10 if benchmark == "MT10" else 50
    env = make_env(benchmark, p, seed)
    result = run_gsl(env, gsl_config(p, num_tasks, seed), run_dir=run, resume=resume, progress=True)
    params = jax.tree.map(lambda x: x[0], result.generalist.params)
    return result.network, params, int(result.records[-1]["total_steps"])


def ppo_env_spec(benchmark: str, p: Preset, seed: int) -> dict[str, Any]:
    """The env spec of the PPO arm's env (saved with its run; a resume on another is refused)."""
    options = {
        "seed": 1 + seed % 2**30,
        "benchmark_seed": seed,
        "max_episode_steps": p.max_episode_steps,
    }
    return {"name": benchmark, "backend": "metaworld", "options": options}


def run_ppo_arm(benchmark: str, p: Preset, seed: int, run: Path, steps: int, resume: bool):
    """PPO with host rollouts for ``steps`` env-steps (whole updates), the same network, PPO
    settings and goals as GSL, checkpointed every 10 chunks; ``resume`` continues ``run`` from
    its newest checkpoint (the envs re-seeded as at the start: gsl_jax.host.ppo_run). Returns
    ``(network, params, env-steps)``."""
    from gsl_jax.host_rollout import train_ppo_host

    num_tasks = 10 if benchmark == "MT10" else 50
    config = gsl_config(p, num_tasks, seed)
    spec = ppo_env_spec(benchmark, p, seed)
    env = make_env(benchmark, p, seed, env_seed=spec["options"]["seed"])
    try:
        result = train_ppo_host(
            env,
            config.ppo,
            config.network,
            total_steps=steps,
            seed=seed,
            updates_per_chunk=p.updates_per_chunk,
            run_dir=run,
            progress=True,
            tensorboard=False,
            resume=resume,
            env_spec=spec,
        )
    finally:
        env.close()
    params = jax.tree.map(lambda x: x[0], result.state.params)
    return result.network, params, int(result.history[-1]["total_steps"])


def evaluate_run(benchmark: str, p: Preset, seed: int, network: Any, params: Any) -> dict:
    env = make_env(benchmark, p, seed, env_seed=2 + seed % 2**30)
    success = evaluate_success(env, mean_action(network, params), goals=range(p.eval_goals))
    env.close()
    per_task = success.mean(axis=1)
    return {
        "success": success.tolist(),
        "per_task": per_task.tolist(),
        "success_rate": float(per_task.mean()),
    }


# ------------------------------------------------------------------------------------------------
# The experiment
# ------------------------------------------------------------------------------------------------
def settings_of(args: argparse.Namespace) -> dict[str, Any]:
    p = dataclasses.replace(PRESETS[args.preset], **({"steps": args.steps} if args.steps else {}))
    if args.seeds:
        p = dataclasses.replace(p, seeds=tuple(args.seeds))
    return {
        "benchmark": "MT50" if args.mt50 else "MT10",
        "preset": args.preset,
        "methods": [m for m in METHODS if m in args.methods],
        "settings": dataclasses.asdict(p),
    }


def prepare(run_dir: Path, settings: dict[str, Any], resume: bool) -> None:
    """Check ``run_dir`` before anything trains: a fresh run needs an empty directory, a resumed
    one the same settings (``ValueError`` naming the file otherwise)."""
    path = run_dir / "experiment.json"
    saved = json.loads(json.dumps(settings))
    if path.exists():
        if not resume:
            raise ValueError(f"run_dir: {run_dir} holds an experiment; pass --resume or another")
        if json.loads(path.read_text()) != saved:
            raise ValueError(f"run_dir: {path} has other settings than these; use another dir")
        return
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ValueError(f"run_dir: {run_dir} is not empty and holds no experiment.json")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(path, saved)


def run_experiment(run_dir: Path, settings: dict[str, Any], resume: bool) -> dict[str, Any]:
    benchmark, methods = settings["benchmark"], settings["methods"]
    p = Preset(**{**settings["settings"], "seeds": tuple(settings["settings"]["seeds"])})
    todo = [(seed, m) for seed in p.seeds for m in methods]
    for k, (seed, method) in enumerate(todo):
        run = run_dir / f"{method}_seed{seed}"
        if (run / "eval.json").exists():
            print(f"[{k + 1}/{len(todo)}] {method} seed {seed}: done, skipped")
            continue
        print(
            f"[{k + 1}/{len(todo)}] {method} seed {seed} ({benchmark}, preset {settings['preset']})"
        )
        start = time.time()
        if method == "gsl":
            network, params, used = run_gsl_arm(benchmark, p, seed, run, resume and run.exists())
        else:
            gsl_eval = run_dir / f"gsl_seed{seed}" / "eval.json"
            steps = json.loads(gsl_eval.read_text())["env_steps"] if gsl_eval.exists() else p.steps
            if run.exists() and not (run / MANIFEST).exists():
                # written before PPO runs checkpointed: nothing to resume, start it again
                shutil.rmtree(run)
            resumed = resume and run.exists()
            network, params, used = run_ppo_arm(benchmark, p, seed, run, steps, resumed)
        record = {"method": method, "seed": seed, "env_steps": used}
        record["train_seconds"] = time.time() - start
        record.update(evaluate_run(benchmark, p, seed, network, params))
        write_json(run / "eval.json", record)
        print(f"    success {100 * record['success_rate']:.1f}% at {used:,} env-steps")
    results = summarize(run_dir, settings)
    write_report(run_dir, results)
    return results


def summarize(run_dir: Path, settings: dict[str, Any]) -> dict[str, Any]:
    benchmark = settings["benchmark"]
    runs = []
    for path in sorted(run_dir.glob("*_seed*/eval.json")):
        runs.append({**json.loads(path.read_text()), "dir": path.parent.name})
    summary = {}
    for method in settings["methods"]:
        rates = [100 * r["success_rate"] for r in runs if r["method"] == method]
        if rates:
            summary[method] = {
                "mean": float(np.mean(rates)),
                "std": float(np.std(rates, ddof=1)) if len(rates) > 1 else 0.0,
                "seeds": len(rates),
                "env_steps": int(np.mean([r["env_steps"] for r in runs if r["method"] == method])),
            }
    results = {
        **settings,
        "tasks": list(task_names(benchmark)),
        "protocol": (
            "success if Meta-World's flag is set at any step of an episode, one episode per "
            f"goal (the first {settings['settings']['eval_goals']} of each task's 50), the "
            "policy's mean action, averaged over goals then tasks; reward v2"
        ),
        "runs": runs,
        "summary": summary,
        "published": {
            "values": PUBLISHED[benchmark],
            "source": "GSL (ICML 2022) as quoted by UniDexGrasp++ (arXiv 2304.00464), Table 3",
            "budget": "not stated in the quote (garage PPO, 3-5 seeds)",
        },
        "machine": {"platform": sys.platform, "devices": [str(d) for d in jax.devices()]},
    }
    write_json(run_dir / "results.json", results)
    return results


def print_table(results: dict[str, Any]) -> None:
    print(f"\n{results['benchmark']} success rate (%), mean +- std over seeds")
    print("| method | ours | env-steps | published |")
    print("|---|---|---|---|")
    for method, s in results["summary"].items():
        pub = results["published"]["values"].get(method)
        pub_s = f"{pub[0]} +- {pub[1]}" if pub else "-"
        print(
            f"| {method.upper()} | {s['mean']:.1f} +- {s['std']:.1f} ({s['seeds']} seeds) | "
            f"{s['env_steps']:,} | {pub_s} |"
        )


# ------------------------------------------------------------------------------------------------
# Figures (the Procgen experiment's curve code, gsl_jax.report.plot_curves)
# ------------------------------------------------------------------------------------------------
def write_report(run_dir: Path, results: dict[str, Any]) -> list[Path]:
    plt = _plt()
    methods = results["methods"]
    curves = {
        m: [
            read_jsonl(run_dir / r["dir"] / "metrics.jsonl")
            for r in results["runs"]
            if r["method"] == m
        ]
        for m in methods
    }
    fig, axes = plt.subplots(1, 2, figsize=(13, 4))
    plot_curves(axes[0], curves, f"{results['benchmark']}: training return")
    as_success = {
        m: [[{**r, "return_mean": r.get("success_mean", np.nan)} for r in recs] for recs in runs]
        for m, runs in curves.items()
    }
    plot_curves(axes[1], as_success, f"{results['benchmark']}: training success rate")
    axes[1].set_ylabel("success rate of finished training episodes")
    fig.tight_layout()
    paths = [run_dir / "learning_curves.png"]
    fig.savefig(paths[0], dpi=110)
    plt.close(fig)
    if results["runs"]:
        paths.append(plot_task_heatmap(results, run_dir / "task_heatmap.png"))
    return paths


def plot_task_heatmap(results: dict[str, Any], path: Path) -> Path:
    """Success per task (rows) for every run and each method's mean over seeds (columns)."""
    plt = _plt()
    runs = sorted(results["runs"], key=lambda r: (r["method"], r["seed"]))
    columns = [f"{r['method'].upper()} s{r['seed']}" for r in runs]
    values = [r["per_task"] for r in runs]
    for method in results["methods"]:
        mine = [r["per_task"] for r in runs if r["method"] == method]
        if mine:
            columns.append(f"{method.upper()} mean")
            values.append(np.mean(mine, axis=0).tolist())
    table = 100 * np.asarray(values).T
    tasks = results["tasks"]
    fig, ax = plt.subplots(figsize=(3.5 + 0.8 * len(columns), 1.2 + 0.3 * len(tasks)))
    im = ax.imshow(table, aspect="auto", cmap="viridis", vmin=0, vmax=100)
    if len(tasks) <= 10:
        for (i, j), v in np.ndenumerate(table):
            ax.text(
                j, i, f"{v:.0f}", ha="center", va="center", fontsize=7, color="w" if v < 50 else "k"
            )
    ax.set_xticks(range(len(columns)), columns, rotation=35, ha="right", fontsize=7)
    ax.set_yticks(range(len(tasks)), tasks, fontsize=7)
    ax.set_title(f"{results['benchmark']}: success per task (%)", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.05)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metaworld_gsl.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--preset", default="cpu", choices=sorted(PRESETS), help="default: cpu")
    add("--mt50", action="store_true", help="MT-50 instead of MT-10")
    add("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    add("--seeds", nargs="+", type=int, default=None, help="override the preset's seeds")
    add("--steps", type=int, default=None, help="override the preset's env-steps per seed")
    add("--run-dir", type=Path, default=None, help="default: runs/metaworld_gsl_<preset>")
    add("--resume", action="store_true", help="continue the experiment in --run-dir")
    add("--report", type=Path, default=None, metavar="RUN_DIR", help="only redraw the figures")
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    if args.report is not None:
        results = json.loads((args.report / "results.json").read_text())
        write_report(args.report, results)
        print_table(results)
        return results
    if args.steps is not None and args.steps <= 0:
        raise ValueError(f"steps: must be positive, got {args.steps}")
    if args.seeds is not None and any(s < 0 or s >= 2**31 for s in args.seeds):
        raise ValueError(f"seeds: must lie in [0, 2**31), got {args.seeds}")
    settings = settings_of(args)
    run_dir = args.run_dir or Path("runs") / f"metaworld_gsl_{args.preset}"
    prepare(run_dir, settings, args.resume)
    results = run_experiment(run_dir, settings, args.resume)
    print_table(results)
    print(f"results: {run_dir / 'results.json'}; figures: {run_dir}/*.png")
    return results


if __name__ == "__main__":
    main()
