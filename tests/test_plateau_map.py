"""The plateau map's tool (``benchmarks/plateau_map.py``) spreads a long run over sessions: a run
stopped at a checkpoint and continued gives the same curves as one that never stopped."""

from __future__ import annotations

import json

import numpy as np
import pytest
from benchmark_scripts import load_script


def _plateau_map():
    return load_script("plateau_map")


# maze easy, one member (4 levels, seed 0), 8 envs x 128 steps per update, 1 update per chunk:
# 4 chunks of 1,024 env-steps, a checkpoint after every 2.
TINY = dict(game="maze", mode="easy", levels=[4], seeds=[0], num_envs=8, updates_per_chunk=1)


def test_a_stopped_map_run_continues_to_the_same_curves(tmp_path):
    tool = _plateau_map()
    whole = tool.run_game_mode(**TINY, steps=4096)
    ckpt = tmp_path / "plateau_maze_easy.ckpt"
    # Past its deadline from the start: stops at the first checkpoint, after 2 of 4 chunks.
    assert tool.run_game_mode(**TINY, steps=4096, checkpoint_dir=ckpt, checkpoint_every=2,
                              deadline=0.0) is None  # fmt: skip
    assert [p.name for p in sorted(ckpt.iterdir())] == ["000002"]
    # A checkpoint of other settings is refused by name, and left as it was.
    with pytest.raises(ValueError, match="plateau_maze_easy.ckpt/000002: a plateau-map checkpoint"):
        tool.run_game_mode(**TINY, steps=8192, checkpoint_dir=ckpt, checkpoint_every=2)
    resumed = tool.run_game_mode(**TINY, steps=4096, checkpoint_dir=ckpt, checkpoint_every=2)
    assert resumed["steps"] == whole["steps"] == [1024, 2048, 3072, 4096]
    np.testing.assert_array_equal(np.asarray(resumed["returns"]), np.asarray(whole["returns"]))
    assert np.isfinite(np.asarray(whole["returns"])).any()  # episodes did finish


def test_a_stored_result_of_other_settings_is_refused(tmp_path):
    tool = _plateau_map()
    stored = {"members": [{"levels": 4, "seed": 0}], "steps": [1024, 2048]}
    (tmp_path / "plateau_maze_easy.json").write_text(__import__("json").dumps(stored))
    argv = ["--games", "maze", "--modes", "easy", "--levels", "4", "--seeds", "0", "1",
            "--steps", "2048", "--num-envs", "8", "--updates-per-chunk", "1", "--out",
            str(tmp_path)]  # fmt: skip
    with pytest.raises(SystemExit, match="plateau_maze_easy.json: holds maze easy"):
        tool.main(argv)


def test_split_levels_parts_join_to_the_whole_population(tmp_path):
    """``--split-levels`` runs each level count as its own program: a member's run does not
    depend on its program's other members, so the joined file equals one population's."""
    tool = _plateau_map()
    common = ["--games", "maze", "--modes", "easy", "--levels", "4", "8", "--seeds", "0",
              "--steps", "2048", "--num-envs", "8", "--updates-per-chunk", "1"]  # fmt: skip
    tool.main([*common, "--out", str(tmp_path / "whole")])
    tool.main([*common, "--out", str(tmp_path / "split"), "--split-levels"])
    whole = json.loads((tmp_path / "whole" / "plateau_maze_easy.json").read_text())
    joined = json.loads((tmp_path / "split" / "plateau_maze_easy.json").read_text())
    assert (
        joined["members"]
        == whole["members"]
        == [
            {"levels": 4, "seed": 0},
            {"levels": 8, "seed": 0},
        ]
    )
    assert joined["steps"] == whole["steps"] == [1024, 2048]
    np.testing.assert_allclose(np.asarray(joined["returns"]), np.asarray(whole["returns"]))
    assert np.isfinite(np.asarray(whole["returns"])).all()  # every member finished episodes
    assert [p["levels"] for p in joined["parts"]] == [[4], [8]]
    assert joined["settings"] == whole["settings"]
    # The parts are gone once joined; the table reads the joined file like any other.
    assert sorted(p.name for p in (tmp_path / "split").glob("*.json")) == [
        "plateau_map.json",
        "plateau_maze_easy.json",
    ]


def test_a_part_the_run_would_leave_out_is_refused_by_name(tmp_path):
    """A ``--split-levels`` part on disk that the run's ``--levels`` (or a run without
    ``--split-levels``) would not join is named before anything compiles, and kept."""
    tool = _plateau_map()
    part = tmp_path / "plateau_maze_easy_200levels.json"
    part.write_text("{}")
    common = ["--games", "maze", "--modes", "easy", "--seeds", "0", "--out", str(tmp_path)]
    with pytest.raises(SystemExit, match="plateau_maze_easy_200levels.json: a --split-levels"):
        tool.main([*common, "--levels", "1000", "--split-levels"])
    with pytest.raises(SystemExit, match="200levels.json: .*no --split-levels"):
        tool.main([*common, "--levels", "200", "1000"])
    assert part.read_text() == "{}"
    assert tool.stray_parts(tmp_path, "maze", "easy", [200, 1000], True) == []
