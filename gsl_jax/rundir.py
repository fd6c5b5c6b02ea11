"""Run directories that never adopt or overwrite files they did not write.

A run directory belongs to one command (``"gsl"``, ``"ppo"``, an experiment) and one spec (the
env and the configs it was started with). Its manifest ``run.json`` records both and every file
the run has written, so that:

* a fresh run starts only in a new or empty directory (:meth:`RunDirectory.create`); a path that
  is a file, or a directory holding anything, is refused with the name of what is in the way;
* a resume (:meth:`RunDirectory.reopen`) refuses another command's run, a spec that differs from
  the saved one (naming the field), and any file in the directory that the run did not write
  (naming it), instead of adopting it as its own;
* files are written atomically (a temporary file renamed over the target), so a crash never
  leaves half a ``config.json`` or ``result.json``;
* the metrics log is appended to, after the last record a checkpoint vouches for
  (:meth:`RunDirectory.metrics_after`), never rewritten from memory.

Errors are ``RunDirError`` (a ``ValueError``) whose message names the directory and the file or
field at fault.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The manifest's file name, inside the run directory.
MANIFEST = "run.json"
#: Hidden entries (the temporary files of atomic writes) are never counted as foreign.
_HIDDEN = "."


class RunDirError(ValueError):
    """A run directory cannot be used as asked; the message names the path and the cause."""


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (write a sibling temporary file, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def spec_differences(
    saved: Mapping[str, Any], given: Mapping[str, Any], prefix: str = ""
) -> list[tuple[str, Any, Any]]:
    """``[(field, saved value, given value)]`` where two nested JSON records differ, with
    dotted field names (``"env.options.seed"``)."""
    out = []
    for key in sorted(set(saved) | set(given)):
        a, b = saved.get(key), given.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += spec_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append((f"{prefix}{key}", a, b))
    return out


def _json_round_trip(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` as it reads back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(data))


@dataclass(frozen=True)
class RunDirectory:
    """A claimed run directory.

    Attributes:
        path: the directory.
        command: the command that owns it.
        spec: the JSON-ready record of what the run is (env name and options, configs).
    """

    path: Path
    command: str
    spec: dict[str, Any]

    # ------------------------------------------------------------------------------------------
    # Claiming
    # ------------------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, command: str, spec: Mapping[str, Any]) -> RunDirectory:
        """Claim ``path`` for a fresh run of ``command``: it must not exist or be an empty
        directory. Writes the manifest; raises :class:`RunDirError` naming what is in the way."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise RunDirError(f"run_dir: {path} is a file, not a directory")
        if path.is_dir():
            present = sorted(p.name for p in path.iterdir())
            if present:
                what = "another run" if MANIFEST in present else f"{present[0]!r}"
                raise RunDirError(
                    f"run_dir: {path} is not empty (it holds {what}); a fresh run starts only "
                    "in a new or empty directory: choose another, or resume the run there"
                )
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RunDirError(f"run_dir: cannot create {path} ({err.strerror})") from None
        run = cls(path, command, _json_round_trip(spec))
        run._write_manifest([])
        return run

    @classmethod
    def reopen(cls, path: str | Path, command: str, spec: Mapping[str, Any]) -> RunDirectory:
        """Reopen the run in ``path`` to resume it as ``command`` with ``spec``.

        Raises :class:`RunDirError` when ``path`` holds no run, another command's run, a run
        whose saved spec differs from ``spec`` (naming the first differing fields), or a file
        the run did not write (naming it).
        """
        path = Path(path)
        manifest = cls._read_manifest(path)
        saved_command = manifest.get("command")
        if saved_command != command:
            raise RunDirError(
                f"command: {path} holds a {saved_command!r} run; {command!r} does not resume it"
            )
        given = _json_round_trip(spec)
        diffs = spec_differences(manifest.get("spec", {}), given)
        if diffs:
            listed = "; ".join(f"{k}: saved {a!r}, given {b!r}" for k, a, b in diffs[:5])
            raise RunDirError(
                f"{diffs[0][0]}: differs from the run saved in {path} ({listed}); resume with "
                "the saved settings or start a new run directory"
            )
        run = cls(path, command, given)
        foreign = run.foreign_files()
        if foreign:
            raise RunDirError(
                f"run_dir: {path / foreign[0]} was not written by this run; move it away "
                "before resuming (a run never adopts files it did not write)"
            )
        return run

    @classmethod
    def load(cls, path: str | Path) -> RunDirectory:
        """The run in ``path`` as its manifest records it (no checks beyond a readable
        manifest): for commands that add to a run, e.g. ``eval`` writing ``eval.json``."""
        path = Path(path)
        data = cls._read_manifest(path)
        return cls(path, str(data.get("command")), dict(data.get("spec", {})))

    @staticmethod
    def _read_manifest(path: Path) -> dict[str, Any]:
        manifest = path / MANIFEST
        if path.exists() and not path.is_dir():
            raise RunDirError(f"run_dir: {path} is a file, not a directory")
        if not manifest.exists():
            raise RunDirError(f"resume: {path} holds no gsl_jax run (no {MANIFEST})")
        try:
            data = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise RunDirError(f"{manifest}: unreadable run manifest ({err})") from None
        if not isinstance(data, dict) or not isinstance(data.get("files"), list):
            raise RunDirError(f"{manifest}: malformed run manifest (key 'files')")
        return data

    # ------------------------------------------------------------------------------------------
    # Files
    # ------------------------------------------------------------------------------------------
    def files(self) -> list[str]:
        """The files the run has written, by name relative to :attr:`path`."""
        return list(self._read_manifest(self.path)["files"])

    def foreign_files(self) -> list[str]:
        """Entries of the directory the run did not write, sorted."""
        own = set(self.files()) | {MANIFEST}
        return sorted(
            p.name
            for p in self.path.iterdir()
            if p.name not in own and not p.name.startswith(_HIDDEN)
        )

    def claim(self, name: str) -> Path:
        """Record ``name`` (a file, or a folder such as ``checkpoints``) as written by this run
        before writing it, and return its path; :class:`RunDirError` if an entry of that name
        exists that the run did not write."""
        files = self.files()
        target = self.path / name
        if name not in files:
            if target.exists():
                raise RunDirError(f"run_dir: {target} exists and was not written by this run")
            self._write_manifest([*files, name])
        return target

    def write_json(self, name: str, data: Any) -> Path:
        """Write ``data`` as JSON to ``name`` atomically, claiming it."""
        target = self.claim(name)
        write_atomic(target, json.dumps(data, indent=1) + "\n")
        return target

    def write_text(self, name: str, text: str) -> Path:
        """Write ``text`` to ``name`` atomically, claiming it."""
        target = self.claim(name)
        write_atomic(target, text)
        return target

    def append_lines(self, name: str, lines: Iterable[str]) -> Path:
        """Append ``lines`` (without newlines) to ``name``, claiming it."""
        target = self.claim(name)
        with open(target, "a") as f:
            f.writelines(line + "\n" for line in lines)
        return target

    def metrics_after(self, name: str, keep: int) -> list[dict[str, Any]]:
        """Cut the JSONL log ``name`` to its first ``keep`` records (those the checkpoint being
        resumed vouches for) and return them as written, ``step`` and ``time`` included. Records
        past them came from chunks that ran after that checkpoint and will be logged again."""
        target = self.claim(name)
        if not target.exists():
            return []
        lines = target.read_text().splitlines()
        kept = []
        for i, line in enumerate(lines[:keep]):
            try:
                kept.append(json.loads(line))
            except json.JSONDecodeError:
                raise RunDirError(f"{target}: line {i + 1} is not JSON") from None
        if len(lines) != len(kept):
            write_atomic(target, "".join(line + "\n" for line in lines[: len(kept)]))
        return kept

    def _write_manifest(self, files: list[str]) -> None:
        record = {"command": self.command, "spec": self.spec, "files": files}
        write_atomic(self.path / MANIFEST, json.dumps(record, indent=1) + "\n")
