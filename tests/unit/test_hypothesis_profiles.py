"""`make test` draws the same Hypothesis examples every run; `make fuzz` draws new ones, more of them
(tests/support/hypothesis_profiles.py, loaded by tests/conftest.py)."""

import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import settings

import tests.unit.test_csv_properties
import tests.unit.test_ids_and_cursor
import tests.unit.test_listing_plan
from tests.support.hypothesis_profiles import (
    BASE_EXAMPLES,
    DEFAULT_FUZZ_FACTOR,
    DERANDOMIZED,
    FUZZ,
    PROFILE_VARIABLE,
    examples,
    fuzz_factor,
    profile_name,
)

TESTS = Path(__file__).resolve().parents[1]
PROFILES_MODULE = TESTS / "support" / "hypothesis_profiles.py"
# The modules whose Hypothesis tests take their settings at import (the HTTP ones build theirs inside
# the test, from the loaded profile, which the first test checks).
PROPERTY_MODULES = (tests.unit.test_csv_properties, tests.unit.test_ids_and_cursor, tests.unit.test_listing_plan)


def _hypothesis_tests(module: ModuleType) -> list[Any]:
    return [value for value in vars(module).values() if getattr(value, "is_hypothesis_test", False)]


@pytest.mark.skipif(PROFILE_VARIABLE in os.environ, reason="a profile was chosen (make fuzz)")
def test_without_a_chosen_profile_every_run_draws_the_same_examples_and_keeps_none() -> None:
    # Given a run with no HYPOTHESIS_PROFILE (make test)
    # When the loaded settings are read
    # Then they are the derandomized profile: examples seeded from each test's source, no database
    assert settings.get_current_profile_name() == DERANDOMIZED
    assert settings.default is not None
    assert settings.default.derandomize is True
    assert settings.default.database is None
    assert settings().derandomize is True
    assert examples(200) == 200


def test_the_profile_is_derandomized_unless_one_is_named() -> None:
    # When the profile is named from an environment without the variable, with it empty, or naming fuzz
    # Then only the last chooses fuzz
    assert profile_name({}) == DERANDOMIZED
    assert profile_name({PROFILE_VARIABLE: ""}) == DERANDOMIZED
    assert profile_name({PROFILE_VARIABLE: FUZZ}) == FUZZ
    # When the two profiles are read
    derandomized, fuzz = settings.get_profile(DERANDOMIZED), settings.get_profile(FUZZ)
    # Then neither keeps a database; the derandomized one draws the base number of examples, fuzz that many times
    # the fuzz factor, at random
    assert (derandomized.derandomize, derandomized.database) == (True, None)
    assert (fuzz.derandomize, fuzz.database) == (False, None)
    assert fuzz.max_examples == BASE_EXAMPLES * fuzz_factor()
    assert derandomized.max_examples == BASE_EXAMPLES


def test_the_fuzz_factor_is_read_from_the_environment() -> None:
    # When the factor is read from an environment without FUZZ_FACTOR, then it is the default; with one, it is that
    assert fuzz_factor({}) == DEFAULT_FUZZ_FACTOR
    assert fuzz_factor({"FUZZ_FACTOR": "3"}) == 3
    # When FUZZ_FACTOR is 0, then it is refused: a fuzz run draws at least the base number of examples
    with pytest.raises(ValueError, match="at least 1"):
        fuzz_factor({"FUZZ_FACTOR": "0"})


@pytest.mark.parametrize("module", PROPERTY_MODULES, ids=lambda module: module.__name__.rsplit(".", 1)[-1])
def test_each_property_test_keeps_the_loaded_profiles_randomness(module: ModuleType) -> None:
    # Given the property tests of a module (their own @settings set max_examples, deadline, health checks)
    # When their own settings are read
    found = _hypothesis_tests(module)
    assert found, f"no Hypothesis test in {module.__name__}"
    for test in found:
        own = test._hypothesis_internal_use_settings
        # Then none of them sets derandomize or a database of its own
        assert own.derandomize is settings().derandomize, test.__name__
        assert own.database is None, test.__name__


def test_no_test_chooses_its_own_seed_randomness_or_database() -> None:
    # Given every test file but the profiles' own
    # When their lines are searched for a derandomize, database, @seed or reproduce_failure setting
    # Then none overrides what the profile decides
    overriding = re.compile(r"derandomize\s*=|database\s*=\s*(?!None\b)|@seed\(|reproduce_failure\(")
    offenders = [
        f"{path.relative_to(TESTS)}:{number}"
        for path in sorted(TESTS.rglob("*.py"))
        if path not in (PROFILES_MODULE, Path(__file__).resolve())
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if overriding.search(line)
    ]
    assert offenders == []
