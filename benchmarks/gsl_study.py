"""The GSL study of docs/gsl_protocol.md: choose its settings, run its variants, print its tables.

    python benchmarks/gsl_study.py settings      # protocol section 2, from the plateau map
    python benchmarks/gsl_study.py run --stage tune --variant gsl     # seeds 0-2, every setting
    python benchmarks/gsl_study.py run --stage final --variant gsl --ppo-variant ppo  # the pair
    python benchmarks/gsl_study.py report --final-gsl gsl --final-ppo ppo
    python benchmarks/gsl_study.py variants      # what each variant is

The settings are fixed once: ``settings`` writes docs/data/gsl_study/settings.json and refuses
to replace a different one. Each (stage, variant, setting) is one Procgen experiment
(``gsl_jax.experiments.procgen``) under ``--root`` (default runs/gsl_study), resumed where it
stopped when run again; the ``ppo`` variant's tuning runs are the PPO half of the ``gsl``
variant's experiment (they share phase I bit for bit), every final experiment is a pair, a
GSL variant on a PPO variant, and a GSL variant that trains the ``gsl`` variant's phase I takes
it over from that experiment where it is done (run ``gsl`` first). The logic is
:mod:`gsl_jax.experiments.procgen.study`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gsl_jax.experiments.procgen.study import (
    STAGES,
    VARIANTS,
    StudySetting,
    branch_source,
    choose_settings,
    final_comparison,
    stage_dir,
    stage_settings,
    tuning_table,
)

ROOT = Path(__file__).resolve().parents[1]
MAP = ROOT / "docs" / "data" / "plateau_map" / "plateau_map.json"
SETTINGS = ROOT / "docs" / "data" / "gsl_study" / "settings.json"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gsl_study.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    choose = sub.add_parser("settings", help="choose the study's settings from the plateau map")
    choose.add_argument("--map", type=Path, default=MAP, help="plateau_map.json")
    choose.add_argument("--out", type=Path, default=SETTINGS, help="settings.json to write")
    run = sub.add_parser("run", help="run (or resume) one variant on every setting")
    run.add_argument("--stage", required=True, choices=STAGES)
    run.add_argument("--variant", required=True, help="a name of `variants`")
    run.add_argument("--ppo-variant", default="ppo", help="the PPO under a GSL variant")
    run.add_argument("--setting", nargs="+", default=None, help="only these GAME_MODE_LEVELS")
    run.add_argument("--no-progress", action="store_true")
    report = sub.add_parser("report", help="the tuning table and, if given, the final one")
    report.add_argument("--final-gsl", default=None, help="GSL variant of the final stage")
    report.add_argument("--final-ppo", default=None, help="PPO variant of the final stage")
    report.add_argument("--out", type=Path, default=None, help="write the tables as JSON")
    sub.add_parser("variants", help="list the variants")
    for p in (run, report):
        p.add_argument("--settings", type=Path, default=SETTINGS, help="settings.json")
        p.add_argument("--root", type=Path, default=Path("runs/gsl_study"), help="run folders")
    return parser


def read_settings(path: Path) -> list[StudySetting]:
    """The study's settings saved by ``settings``; ``ValueError`` naming the file if absent or
    unreadable."""
    if not path.exists():
        raise ValueError(f"--settings: {path} does not exist; run `gsl_study.py settings` first")
    try:
        return [StudySetting(**row) for row in json.loads(path.read_text())["settings"]]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"--settings: {path} is not the study's settings ({err})") from None


def write_settings(map_path: Path, out: Path) -> list[StudySetting]:
    """Choose the settings from ``map_path`` and save them to ``out``; a different saved choice
    is refused (the protocol fixes them once), the same one is left as it is."""
    from gsl_jax.envs.procgen import GAMES

    if not map_path.exists():
        raise ValueError(f"--map: {map_path} does not exist (benchmarks/plateau_map.py --report)")
    chosen = choose_settings(json.loads(map_path.read_text()), list(GAMES))
    data = {
        "map": str(map_path.relative_to(ROOT)) if map_path.is_relative_to(ROOT) else str(map_path)
    }
    data["settings"] = [asdict(s) for s in chosen]
    if out.exists():
        if read_settings(out) != chosen:
            raise ValueError(
                f"--out: {out} holds another choice of settings; the protocol fixes them once "
                "(an amendment to docs/gsl_protocol.md, then remove the file by hand)"
            )
        return chosen
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n")
    return chosen


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def print_tuning(rows: list[dict[str, Any]], settings: Sequence[StudySetting]) -> None:
    labels = [s.label for s in settings]
    print("| variant | method | " + " | ".join(labels) + " | mean | what |")
    print("|---|---|" + "---:|" * (len(labels) + 1) + "---|")
    for r in rows:
        cells = " | ".join(_fmt(r[x]) for x in labels)
        print(f"| {r['variant']} | {r['method']} | {cells} | {_fmt(r['mean'])} | {r['note']} |")


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    """Parse the command line and run the command; bad input exits with a message naming it."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "variants":
            for name, v in VARIANTS.items():
                print(f"{name:16s} {v.method:4s} {v.note}  {dict(v.options) or ''}")
            return None
        if args.command == "settings":
            chosen = write_settings(args.map, args.out)
            for s in chosen:
                kind = "plateau setting" if s.plateau else "fill-in (no plateau setting)"
                print(
                    f"{s.label}: B = {s.budget:,}, final {s.final:.3f}, "
                    f"gain {s.late_gain:+.3f}, {kind}"
                )
            return {"settings": [asdict(s) for s in chosen]}
        settings = read_settings(args.settings)
        if args.command == "run":
            return _run(args, settings)
        rows = tuning_table(args.root, settings)
        print_tuning(rows, settings)
        out: dict[str, Any] = {"tuning": rows}
        if args.final_gsl or args.final_ppo:
            chosen = {"ppo": args.final_ppo or "", "gsl": args.final_gsl or ""}
            out["final"] = final_comparison(args.root, settings, chosen)
            for method, row in out["final"]["methods"].items():
                iqm = row["iqm"]
                print(f"final {method} ({row['variant']}): IQM {iqm['point']:.3f} {iqm['ci']}")
            print("decision:", out["final"].get("decision", "-"))
        if args.out is not None:
            args.out.write_text(json.dumps(out, indent=1) + "\n")
        return out
    except (ValueError, FileExistsError, FileNotFoundError) as err:
        raise SystemExit(f"gsl_study: error: {err}") from None


def _run(args: argparse.Namespace, settings: list[StudySetting]) -> dict[str, Any]:
    from gsl_jax.experiments.procgen import run_experiment

    chosen = settings
    if args.setting is not None:
        known = {s.label: s for s in settings}
        bad = [x for x in args.setting if x not in known]
        if bad:
            raise ValueError(
                f"--setting: {bad[0]!r} is not a study setting; known: {sorted(known)}"
            )
        chosen = [known[x] for x in args.setting]
    # every experiment is checked before the first one trains
    plans = [
        (stage_settings(args.stage, args.variant, s, args.ppo_variant),
         stage_dir(args.root, args.stage, args.variant, s, args.ppo_variant))
        for s in chosen
    ]  # fmt: skip
    out = {}
    for (s, run_dir), setting in zip(plans, chosen, strict=True):
        donor = branch_source(args.root, args.stage, args.variant, setting)
        shared = f" (phase I from {donor} where it is done)" if donor is not None else ""
        print(f"== {args.stage} {args.variant} on {run_dir.name} -> {run_dir}{shared}", flush=True)
        resume = (run_dir / "experiment.json").exists()
        out[run_dir.name] = run_experiment(
            s, run_dir, resume, not args.no_progress, False, branch_from=donor
        )
    return out


if __name__ == "__main__":
    main()
