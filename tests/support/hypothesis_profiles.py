"""The Hypothesis profiles the suite runs under (registered and loaded by tests/conftest.py).

* `derandomized` (the default, `make test`): every property and fuzz test draws the same examples on
  every run (seeded from the test's own source), with no example database, so the suite passes or
  fails on the code alone, never on the draw.
* `fuzz` (`HYPOTHESIS_PROFILE=fuzz`, `make fuzz`): random draws, FUZZ_FACTOR times as many examples.
  A failure prints the seed (`--hypothesis-seed=<n>`) that reproduces it.

Tests that set `max_examples` themselves pass their count through `examples()`, so that it scales too.
"""

import os
from collections.abc import Mapping

from hypothesis import HealthCheck, settings

PROFILE_VARIABLE = "HYPOTHESIS_PROFILE"
FACTOR_VARIABLE = "FUZZ_FACTOR"
DERANDOMIZED = "derandomized"
FUZZ = "fuzz"
DEFAULT_FUZZ_FACTOR = 10
# Hypothesis' own default, for the tests that do not set max_examples.
BASE_EXAMPLES = 100


def fuzz_factor(environ: Mapping[str, str] = os.environ) -> int:
    factor = int(environ.get(FACTOR_VARIABLE, DEFAULT_FUZZ_FACTOR))
    if factor < 1:
        raise ValueError(f"{FACTOR_VARIABLE} must be at least 1, not {factor}")
    return factor


def profile_name(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(PROFILE_VARIABLE) or DERANDOMIZED


def register_and_load(environ: Mapping[str, str] = os.environ) -> str:
    """Register both profiles and load the one `environ` names (the derandomized one unless told)."""
    # Both: no deadline (a loaded 2-core machine must not fail a test on timing) and no database.
    common = settings(
        settings.get_profile("default"), deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
    )
    settings.register_profile(DERANDOMIZED, common, derandomize=True, max_examples=BASE_EXAMPLES)
    settings.register_profile(
        FUZZ, common, derandomize=False, max_examples=BASE_EXAMPLES * fuzz_factor(environ), print_blob=True
    )
    name = profile_name(environ)
    settings.load_profile(name)
    return name


def examples(count: int) -> int:
    """A test's own max_examples under the loaded profile: `count`, or FUZZ_FACTOR times it under `fuzz`."""
    if settings.get_current_profile_name() == FUZZ:
        return count * fuzz_factor()
    return count
