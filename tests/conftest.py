import os

from hypothesis import HealthCheck, settings

# deadline=None: the first call of a kernel compiles (or loads from cache).
settings.register_profile("ci", max_examples=300, derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
