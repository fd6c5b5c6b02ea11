"""Checkpoints: round trip with PRNG keys, atomic writes, mismatches named, no overwrite."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.checkpoint import latest_checkpoint, restore_checkpoint, save_checkpoint


def tree(seed=0):
    return {
        "w": jnp.arange(6.0).reshape(2, 3) + seed,
        "rng": jax.random.key(seed),
        "count": jnp.int32(7),
    }


def test_round_trip_with_keys(tmp_path):
    save_checkpoint(tmp_path, 3, tree(1), {"phase": "generalist", "steps": 100})
    path = latest_checkpoint(tmp_path)
    back, meta = restore_checkpoint(path, tree(0))
    assert meta == {"phase": "generalist", "steps": 100}
    np.testing.assert_array_equal(back["w"], tree(1)["w"])
    # The restored key continues the same random stream.
    np.testing.assert_array_equal(
        jax.random.uniform(back["rng"]), jax.random.uniform(tree(1)["rng"])
    )
    with pytest.raises(FileExistsError, match="not overwriting"):
        save_checkpoint(tmp_path, 3, tree(2), {})


def test_partial_checkpoints_are_ignored(tmp_path):
    save_checkpoint(tmp_path, 1, tree(), {"i": 1})
    (tmp_path / "000002.partial").mkdir()  # a save killed half-way
    assert latest_checkpoint(tmp_path).name == "000001"
    save_checkpoint(tmp_path, 2, tree(), {"i": 2})  # clears the leftover and completes
    assert latest_checkpoint(tmp_path).name == "000002"


def test_mismatched_state_is_reported(tmp_path):
    path = save_checkpoint(tmp_path, 0, tree(), {})
    wrong = {"w": jnp.zeros((3, 3)), "rng": jax.random.key(0), "count": jnp.int32(0)}
    with pytest.raises(ValueError, match="checkpoint .*000000"):
        restore_checkpoint(path, wrong)
    (path / "meta.json").write_text("{not json")
    with pytest.raises(ValueError, match="damaged .meta.json unreadable"):
        restore_checkpoint(path, tree())
