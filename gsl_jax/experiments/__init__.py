"""Experiments built on the library, each a package a thin script drives.

* :mod:`gsl_jax.experiments.procgen`: PPO vs PPO+GSL on Procgen at equal total env-steps
  (``benchmarks/procgen_gsl.py``).
"""
