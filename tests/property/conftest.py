"""Hypothesis settings for the property tests: deterministic (derandomized), bounded, no deadline flakiness.

The profile is registered here and applied per test with @PROPERTY (see tests/property/strategies.py), so it never
changes the settings of hypothesis tests elsewhere in the suite.
"""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "callsteer-property",
    derandomize=True,
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
