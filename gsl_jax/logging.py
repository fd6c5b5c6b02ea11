"""Host-side logging between compiled chunks: progress bar, JSONL metrics and TensorBoard events.

Nothing here runs inside ``jit``. :func:`summarize_chunk` turns a chunk's metric arrays
(``[K, P]`` leaves from :func:`gsl_jax.population.make_chunk`) into plain floats, and
:class:`RunLogger` writes them.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np


def summarize_chunk(metrics: dict[str, jax.Array]) -> dict[str, Any]:
    """Reduce ``[K, P]`` chunk metrics to floats.

    Episode statistics are pooled over the chunk (``return_mean = sum of returns / episodes``);
    per-member means are returned as lists under ``return_mean_per_member``. Loss metrics are
    averaged over updates and members. ``return_mean`` is NaN when no episode finished.
    """
    m = {k: np.asarray(v, np.float64) for k, v in jax.device_get(metrics).items()}
    episodes = m.pop("episodes")
    sums = {k: m.pop(k) for k in ("return_sum", "length_sum", "success_sum")}
    out: dict[str, Any] = {k: float(v.mean()) for k, v in m.items()}
    total = episodes.sum()
    out["episodes"] = int(total)
    for name, values in sums.items():
        key = name.replace("_sum", "_mean")
        out[key] = float(values.sum() / total) if total > 0 else math.nan
    per_member_eps = episodes.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_member = sums["return_sum"].sum(axis=0) / per_member_eps
    out["return_mean_per_member"] = [float(x) for x in per_member]
    return out


class RunLogger:
    """Writes one record per chunk to ``run_dir/metrics.jsonl`` and TensorBoard, and draws a
    progress bar (tqdm) with steps/s and the mean return.

    Non-finite values are recorded as such: JSONL writes ``NaN`` / ``Infinity`` (read back by
    Python's ``json``), TensorBoard the value itself plus ``nonfinite/<key> = 1``.

    Args:
        run_dir: output folder (created); ``None`` logs to the progress bar only.
        total_steps: the run's env-step budget, for the progress bar and ETA.
        tensorboard: also write TensorBoard event files (tensorboardX) under ``run_dir``.
        progress: draw the progress bar.
        desc: progress bar label (e.g. the phase).
        start_step: env-steps already done (a resumed run's bar starts there).
    """

    def __init__(
        self,
        run_dir: str | Path | None,
        total_steps: int,
        tensorboard: bool = True,
        progress: bool = True,
        desc: str = "ppo",
        start_step: int = 0,
    ):
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self._jsonl = None
        self._tb = None
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._jsonl = open(self.run_dir / "metrics.jsonl", "a")  # noqa: SIM115
            if tensorboard:
                from tensorboardX import SummaryWriter

                self._tb = SummaryWriter(str(self.run_dir / "tb"))
        self._bar = None
        if progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total_steps, initial=start_step, desc=desc, unit="step", unit_scale=True
            )
        self._start = time.perf_counter()
        self._last_steps = start_step

    def log(self, step: int, record: dict[str, Any]) -> None:
        """Log ``record`` at env-step ``step`` (the x axis: generalist or total env-steps)."""
        elapsed = time.perf_counter() - self._start
        record = {"step": int(step), "time": elapsed, **record}
        if self._jsonl is not None:
            self._jsonl.write(json.dumps(record, allow_nan=True) + "\n")
            self._jsonl.flush()
        if self._tb is not None:
            for key, value in record.items():
                if isinstance(value, int | float) and key != "step":
                    # A non-finite value is written as such (NaN/inf), and flagged by a
                    # separate scalar, so a poisoned curve shows instead of stopping short.
                    self._tb.add_scalar(key, value, step)
                    if not math.isfinite(value):
                        self._tb.add_scalar(f"nonfinite/{key}", 1.0, step)
            self._tb.flush()
        if self._bar is not None:
            self._bar.update(max(0, step - self._last_steps))
            postfix = {"return": f"{record.get('return_mean', math.nan):.2f}"}
            if "steps_per_second" in record:
                postfix["steps/s"] = f"{record['steps_per_second']:.3g}"
            self._bar.set_postfix(postfix)
        self._last_steps = step

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._jsonl is not None:
            self._jsonl.close()
        if self._tb is not None:
            self._tb.close()

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
