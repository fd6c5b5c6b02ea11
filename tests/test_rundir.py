"""Run directories: fresh runs only in new or empty folders, resumes that adopt nothing, atomic
writes, metrics appended after the checkpointed records."""

from __future__ import annotations

import json

import pytest

from gsl_jax.rundir import MANIFEST, RunDirectory, RunDirError, spec_differences

SPEC = {"env": {"name": "maze", "options": {"seed": 3, "obs_mode": "symbolic"}}, "lr": 1e-3}


def test_fresh_run_claims_a_new_directory_and_records_its_files(tmp_path):
    run = RunDirectory.create(tmp_path / "a" / "b", "gsl", SPEC)
    run.write_json("config.json", {"x": 1})
    run.append_lines("events.log", ["one", "two"])
    assert run.files() == ["config.json", "events.log"]
    manifest = json.loads((run.path / MANIFEST).read_text())
    assert manifest["command"] == "gsl" and manifest["spec"] == SPEC
    assert (run.path / "events.log").read_text() == "one\ntwo\n"
    assert not [p for p in run.path.iterdir() if p.name.startswith(".")]  # no temp left


@pytest.mark.parametrize("content", ["events.log", "demos.npz", MANIFEST])
def test_fresh_run_refuses_a_directory_with_anything_in_it(tmp_path, content):
    (tmp_path / content).write_text("the user's")
    with pytest.raises(RunDirError, match="not empty"):
        RunDirectory.create(tmp_path, "gsl", SPEC)
    assert (tmp_path / content).read_text() == "the user's"


def test_fresh_run_refuses_a_file_as_run_dir(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(RunDirError, match="is a file"):
        RunDirectory.create(tmp_path / "f", "gsl", SPEC)


def test_resume_refuses_foreign_files_another_command_and_another_spec(tmp_path):
    run = RunDirectory.create(tmp_path, "gsl", SPEC)
    run.write_json("config.json", {})
    assert RunDirectory.reopen(tmp_path, "gsl", SPEC).files() == ["config.json"]
    with pytest.raises(RunDirError, match="^command: .*'gsl' run; 'ppo'"):
        RunDirectory.reopen(tmp_path, "ppo", SPEC)
    other = {**SPEC, "env": {"name": "maze", "options": {"seed": 4, "obs_mode": "symbolic"}}}
    with pytest.raises(RunDirError, match=r"^env\.options\.seed: .*saved 3, given 4"):
        RunDirectory.reopen(tmp_path, "gsl", other)
    (tmp_path / "demos.npz").write_text("not ours")
    with pytest.raises(RunDirError, match="demos.npz was not written by this run"):
        RunDirectory.reopen(tmp_path, "gsl", SPEC)
    with pytest.raises(RunDirError, match="demos.npz exists and was not written"):
        run.claim("demos.npz")


def test_resume_of_a_folder_without_a_run_or_with_a_broken_manifest(tmp_path):
    with pytest.raises(RunDirError, match="holds no gsl_jax run"):
        RunDirectory.reopen(tmp_path, "gsl", SPEC)
    (tmp_path / MANIFEST).write_text("{trunc")
    with pytest.raises(RunDirError, match="run.json: unreadable"):
        RunDirectory.reopen(tmp_path, "gsl", SPEC)
    (tmp_path / MANIFEST).write_text(json.dumps({"command": "gsl"}))
    with pytest.raises(RunDirError, match="key 'files'"):
        RunDirectory.reopen(tmp_path, "gsl", SPEC)


def test_metrics_are_cut_to_the_checkpointed_records_and_kept_as_written(tmp_path):
    run = RunDirectory.create(tmp_path, "ppo", SPEC)
    records = [{"step": 10 * i, "time": 0.5 * i, "return_mean": float(i)} for i in range(5)]
    run.append_lines("metrics.jsonl", [json.dumps(r) for r in records])
    kept = run.metrics_after("metrics.jsonl", 3)
    assert kept == records[:3]  # step and time as first written
    run.append_lines("metrics.jsonl", [json.dumps({"step": 30, "time": 9.0})])
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [0, 10, 20, 30]


def test_spec_differences_name_nested_fields():
    assert spec_differences({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 0}) == [
        ("a.c", 2, 3),
        ("d", None, 0),
    ]


def test_load_and_write_text_record_what_a_later_command_adds(tmp_path):
    RunDirectory.create(tmp_path, "gsl", SPEC)
    run = RunDirectory.load(tmp_path)
    assert (run.command, run.spec) == ("gsl", json.loads(json.dumps(SPEC)))
    run.write_text("events.log", "a\nb\n")
    run.write_json("eval.json", {"x": 1})
    assert run.files() == ["events.log", "eval.json"] and run.foreign_files() == []
    assert (tmp_path / "events.log").read_text() == "a\nb\n"
    RunDirectory.reopen(tmp_path, "gsl", SPEC)  # nothing foreign
