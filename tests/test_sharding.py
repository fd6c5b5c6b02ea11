"""Four specialists sharded over four (virtual) CPU devices compute what one device computes.

The device count is fixed when XLA starts, so the check runs in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=4``.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

SCRIPT = textwrap.dedent(
    """
    import json
    import jax
    import numpy as np
    from gsl_jax.envs.core import VecEnv, stack_variation_sets
    from gsl_jax.envs.gymnax import GymnaxEnv
    from gsl_jax.networks import NetworkConfig, make_network
    from gsl_jax.population import init_population, make_chunk, population_sharding
    from gsl_jax.ppo import PPOConfig

    assert jax.device_count() == 4, jax.devices()
    env = GymnaxEnv("CartPole-v1", family="pole")
    config = PPOConfig(num_envs=8, num_steps=16, num_minibatches=2, update_epochs=2,
                       gamma=0.99, loop="scan")
    net = make_network(NetworkConfig(hidden=(16, 16)), env.action_space, (4,))
    vec = VecEnv(env, config.num_envs)
    sets = stack_variation_sets([[0, 1], [4, 5, 6], [9], [12, 13, 14, 15]], env)

    def run(shard):
        state = init_population(jax.random.key(0), vec, net, config, sets)
        shardings = None
        if shard:
            shardings = population_sharding(state)
            state = jax.device_put(state, shardings)
        chunk = make_chunk(vec, net, config, num_updates=3, shardings=shardings)
        for _ in range(2):
            state, metrics = chunk(state)
        leaf = jax.tree.leaves(state.params)[0]
        return state, metrics, len(leaf.sharding.device_set)

    one, m_one, devices_one = run(False)
    four, m_four, devices_four = run(True)
    diffs = [float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
             for a, b in zip(jax.tree.leaves(one.params), jax.tree.leaves(four.params))]
    print(json.dumps({
        "devices_one": devices_one,
        "devices_four": devices_four,
        "max_param_diff": max(diffs),
        "param_scale": max(float(np.max(np.abs(np.asarray(a))))
                           for a in jax.tree.leaves(one.params)),
        "loss_one": np.asarray(m_one["policy_loss"]).tolist(),
        "loss_four": np.asarray(m_four["policy_loss"]).tolist(),
        "episodes_equal": bool(np.array_equal(m_one["episodes"], m_four["episodes"])),
    }))
    """
)


def test_four_specialists_sharded_over_four_devices_match_one_device():
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu"
    )
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["devices_one"] == 1
    assert out["devices_four"] == 4  # the population really is spread over four devices
    assert out["episodes_equal"]  # identical rollouts: the same episodes finished
    assert out["max_param_diff"] <= 1e-5 * max(1.0, out["param_scale"])
    np.testing.assert_allclose(out["loss_one"], out["loss_four"], rtol=1e-4, atol=1e-6)


GSL_SCRIPT = textwrap.dedent(
    """
    import json
    import sys
    from dataclasses import replace
    import jax
    import numpy as np
    from gsl_jax.envs.gymnax import GymnaxEnv
    from gsl_jax.gsl import run_gsl
    sys.path.insert(0, {scripts!r})
    from resume_run import GSL_CONFIG as CONFIG  # the resume tests' small CartPole GSL config

    assert jax.device_count() == 2, jax.devices()
    config = replace(CONFIG, specialist_steps=256 * 3)
    out = {{}}
    for shard in (False, True):
        events = []
        env = GymnaxEnv("CartPole-v1", family="pole")
        result = run_gsl(env, config, log=events.append, shard=shard)
        leaf = jax.tree.leaves(result.generalist.params)[0]
        out[str(shard)] = {{
            "events": events,
            "generalist_devices": len(leaf.sharding.device_set),
            "params": [np.asarray(x).tolist() for x in jax.tree.leaves(result.generalist.params)],
            "demos_kept": list(result.demos_kept),
        }}
    # Plain PPO follows the same rule: one learner stays on one device, a population of two
    # is split over both.
    from gsl_jax.training import train_ppo
    for sets in ([range(16)], [range(8), range(8, 16)]):
        ppo = train_ppo(GymnaxEnv("CartPole-v1", family="pole"), config.ppo, total_steps=256,
                        variation_sets=sets, updates_per_chunk=2, progress=False)
        leaf = jax.tree.leaves(ppo.state.params)[0]
        out[f"ppo_{{len(sets)}}_devices"] = len(leaf.sharding.device_set)
    print(json.dumps(out))
    """
)


def test_gsl_shards_its_specialists_over_two_devices_and_computes_the_same():
    scripts = os.path.join(os.path.dirname(__file__), "scripts")
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu"
    )
    proc = subprocess.run(
        [sys.executable, "-c", GSL_SCRIPT.format(scripts=scripts)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    one, two = out["False"], out["True"]
    assert one["generalist_devices"] == two["generalist_devices"] == 1  # one learner: not split
    assert out["ppo_1_devices"] == 1 and out["ppo_2_devices"] == 2  # the same rule for PPO
    sharded = [e for e in two["events"] if e.startswith("specialists:")]
    assert sharded and sharded[0].endswith("sharded over 2 devices"), two["events"]
    # Same run otherwise: the same selection, subsets and demos, and close parameters.
    plain = lambda events: [e for e in events if not e.startswith("specialists:")]  # noqa: E731
    assert plain(one["events"]) == plain(two["events"])
    assert one["demos_kept"] == two["demos_kept"]
    for a, b in zip(one["params"], two["params"], strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


def test_placement_rule_uses_gcd_of_population_and_devices():
    from gsl_jax.population import population_devices

    devices = ["d0", "d1", "d2", "d3"]  # the rule only picks among them
    got = {p: population_devices(p, devices) for p in (1, 2, 3, 4, 6, 8)}
    assert got == {
        1: ["d0"],  # a single learner: one device
        2: ["d0", "d1"],
        3: ["d0"],  # gcd(3, 4) = 1: the population stays on one device
        4: devices,
        6: ["d0", "d1"],
        8: devices,
    }
