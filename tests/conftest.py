import os

from hypothesis import HealthCheck, settings

# deadline=None: the first call of a kernel compiles (or loads from cache).
settings.register_profile("ci", max_examples=300, derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_configure(config):
    """Under pytest-xdist, compile the numba kernels most test files share once, in the controller, before the
    workers start: in a fresh clone both workers would otherwise compile the same ``cache=True`` kernels at once
    (numba writes each to the cache only when it is done). The workers then load them from the cache."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        _warm_numba_cache()


def _warm_numba_cache():
    import numpy as np

    import simalloc
    from simalloc.train import TrainConfig, simulate_training

    for name in sorted(simalloc.ALLOCATORS):  # every allocator's kernels, int64 counts as the tests pass them
        simalloc.allocate(name, np.array([0, 1, 4, 8, 3]), 8, 12)
    simulate_training(TrainConfig(steps=2, n_pool=300, n_eval=60, n_prompts=20, group_size=16, k0=4,
                                  phase_b_shards=2, record_every=1, snr_every=0), "hora", 0)
