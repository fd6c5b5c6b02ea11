"""The one chunk loop: accounting, checkpoint cadence, resume, the until criterion and the
divergence guard."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.loop import ChunkPlan, DivergenceError, Progress, RunIO, first_nonfinite, run_loop

K, P = 2, 3  # updates per chunk, members


def fake_chunk(poison_at: int | None = None):
    """A chunk whose state counts chunks; every member finishes one episode of return = count.
    With ``poison_at``, that chunk's second update has a NaN policy loss for member 1."""

    def chunk(state):
        state = state + 1
        loss = np.ones((K, P))
        if state == poison_at:
            loss[1, 1] = np.nan
        metrics = {
            "episodes": np.ones((K, P)),
            "return_sum": np.full((K, P), float(state)),
            "length_sum": np.full((K, P), 10.0),
            "success_sum": np.zeros((K, P)),
            "policy_loss": loss,
        }
        return state, metrics

    return chunk


def saver(saved):
    def save(state, progress):
        saved.append((state, progress.chunk))
        return dataclasses.replace(progress, checkpoints=progress.checkpoints + 1)

    return save


def test_loop_accounts_steps_checkpoints_and_resumes_where_it_stopped():
    plan = ChunkPlan("specialists", 100, num_chunks=5, members=P, generalist=False)
    io = RunIO(None, checkpoint_every=2)
    saved = []
    state, prog, stopped = run_loop(fake_chunk(), 0, Progress(), plan, io, saver(saved))
    assert stopped is None and state == 5 and prog.chunk == 5
    assert (prog.generalist_steps, prog.total_steps) == (0, 5 * 100 * P)
    assert saved == [(2, 2), (4, 4)] and prog.checkpoints == 2
    assert [r["return_mean"] for r in prog.records] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert [r["total_steps"] for r in prog.records] == [300, 600, 900, 1200, 1500]
    # Resuming from the checkpoint after chunk 4 runs exactly the one chunk left.
    at_4 = dataclasses.replace(prog, chunk=4, total_steps=1200, records=prog.records[:4])
    again = run_loop(fake_chunk(), 4, at_4, plan, io)
    assert (
        again.state == 5 and again.progress.records == prog.records[:4] + again.progress.records[4:]
    )
    assert again.progress.total_steps == prog.total_steps


def test_until_ends_the_loop_without_checkpointing_that_chunk():
    plan = ChunkPlan(
        "generalist", 10, until=lambda p: "budget" if p.generalist_steps >= 30 else None
    )
    saved = []
    out = run_loop(fake_chunk(), 0, Progress(), plan, RunIO(None, checkpoint_every=1), saver(saved))
    assert out.stopped == "budget" and out.state == 3 and out.progress.generalist_steps == 30
    assert [s for s, _ in saved] == [1, 2]  # not after chunk 3, where the criterion fired


def test_divergence_stops_before_any_checkpoint_of_the_bad_chunk():
    plan = ChunkPlan("generalist+dapg", 10, num_chunks=5, tags={"gsl_phase": "phase2"})
    saved, records = [], []
    io = RunIO(None, on_record=records.append, checkpoint_every=1)
    message = r"phase phase2: policy_loss = nan at update 6 of the phase \(member 1\)"
    with pytest.raises(DivergenceError, match=message):
        run_loop(fake_chunk(poison_at=3), 0, Progress(), plan, io, saver(saved))
    assert [s for s, _ in saved] == [1, 2]  # the bad chunk 3 is never saved
    assert len(records) == 3 and np.isnan(records[-1]["policy_loss"])  # but it is logged


def test_non_finite_parameters_are_caught_inside_a_real_chunk(tmp_path):
    from gsl_jax.envs.core import VecEnv, stack_variation_sets
    from gsl_jax.envs.gymnax import GymnaxEnv
    from gsl_jax.networks import NetworkConfig, make_network
    from gsl_jax.population import init_population, make_chunk
    from gsl_jax.ppo import PPOConfig

    env = GymnaxEnv("CartPole-v1", family="pole")
    config = PPOConfig(num_envs=4, num_steps=8, num_minibatches=1, update_epochs=1)
    net = make_network(NetworkConfig(hidden=(8,)), env.action_space, (4,))
    vec = VecEnv(env, config.num_envs)
    state = init_population(jax.random.key(0), vec, net, config, stack_variation_sets([[0]], env))
    chunk = make_chunk(vec, net, config, num_updates=2)  # donates its input state: copy first
    n_params = sum(x.size for x in jax.tree.leaves(state.params))

    def poisoned():
        copy = jax.tree.map(jnp.copy, state)
        return copy.replace(params=jax.tree.map(lambda x: jnp.full_like(x, jnp.nan), copy.params))

    bad_state = poisoned()
    _, metrics = chunk(jax.tree.map(jnp.copy, state))
    assert first_nonfinite(metrics) is None
    assert np.asarray(metrics["nonfinite_params"]).tolist() == [[0], [0]]
    _, metrics = chunk(bad_state)
    quantity, update, member, _ = first_nonfinite(metrics)
    assert update == 0 and member == 0
    assert np.asarray(metrics["nonfinite_params"])[0, 0] == n_params
    io = RunIO(tmp_path, checkpoint_every=1)
    save = lambda s, p: io.save({"state": s}, p)  # noqa: E731
    plan = ChunkPlan("generalist", 64, num_chunks=3)
    with pytest.raises(DivergenceError, match="divergence in phase generalist: .* at update 1 of"):
        run_loop(chunk, poisoned(), Progress(), plan, io, save)
    assert not (tmp_path / "checkpoints").exists()


def test_first_nonfinite_picks_the_earliest_update():
    metrics = {
        "episodes": np.zeros((3, 2)),
        "return_sum": np.full((3, 2), np.nan),  # an episode statistic: not guarded
        "value_loss": np.array([[1.0, 1.0], [1.0, 1.0], [np.inf, 1.0]]),
        "policy_loss": np.array([[1.0, 1.0], [1.0, np.nan], [1.0, 1.0]]),
        "nonfinite_params": np.zeros((3, 2)),
    }
    assert first_nonfinite(metrics)[:3] == ("policy_loss", 1, 1)
    metrics["nonfinite_params"][0, 0] = 7
    assert first_nonfinite(metrics) == ("nonfinite_params", 0, 0, 7.0)


def test_phase_table_runs_in_order_checkpoints_each_boundary_and_resumes_by_position():
    """A table that repeats a phase (a second cycle) is walked entry by entry; a run resumed at
    the second "work" entry runs only what is left."""
    from types import SimpleNamespace

    from gsl_jax.phases import GSLProgress, Phase, run_phases

    def work(ctx, arrays, progress):
        arrays = {**arrays, "generalist": arrays["generalist"] + 1}
        return arrays, dataclasses.replace(progress, events=(*progress.events, "work"))

    def check(ctx, arrays, progress):
        return arrays, dataclasses.replace(progress, events=(*progress.events, "check"))

    saved = []
    io = SimpleNamespace(save=lambda arrays, p: saved.append((p.phase, p.position)) or p)
    ctx = SimpleNamespace(config=None, io=io)
    table = (Phase("work", work), Phase("check", check), Phase("work", work))
    arrays, prog = run_phases(ctx, {"generalist": 0}, GSLProgress(phase="work"), table)
    assert arrays == {"generalist": 2} and prog.events == ("work", "check", "work")
    assert saved == [("check", 1), ("work", 2), ("done", 3)]
    arrays, prog = run_phases(ctx, {"generalist": 1}, GSLProgress(phase="work", position=2), table)
    assert arrays == {"generalist": 2} and prog.events == ("work",)
    with pytest.raises(ValueError, match="phase: 'select' is not a phase of this run"):
        run_phases(ctx, {"generalist": 0}, GSLProgress(phase="select"), table)
