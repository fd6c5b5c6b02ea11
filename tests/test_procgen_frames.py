"""Behaviour lock for the Procgen ports: a fixed 1,500-step, 64-env pixel rollout of every game in
easy and hard mode hashes to the digests recorded before the ports moved onto the shared
``ProcgenPort`` base (see ``tests/frame_checksums.py``)."""

from __future__ import annotations

import json

import pytest
from frame_checksums import GAMES, MODES, PATH, rollout_digests


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("game", GAMES)
def test_rollout_frames_rewards_and_dones_are_unchanged(game: str, mode: str):
    expected = json.loads(PATH.read_text())[f"{game}-{mode}"]
    assert rollout_digests(game, mode) == expected
