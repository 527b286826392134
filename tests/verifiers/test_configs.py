"""Every verifier config field is an option of the function it configures, with the same default."""

import dataclasses
import inspect

import pytest

from verifiers import VERIFIERS
from verifiers.code import verify_code_batch
from verifiers.format import check_format
from verifiers.language import language_consistency
from verifiers.math import verify_math
from verifiers.readability import check_readability

FUNCTIONS = {"math": verify_math, "code": verify_code_batch, "format": check_format, "language": language_consistency,
             "readability": check_readability}
FROM_THE_ROW = {"language": {"target"}}  # None in the config: the problem's own value is used


@pytest.mark.parametrize("name", sorted(VERIFIERS))
def test_config_fields_are_the_functions_options_with_their_defaults(name):
    params = inspect.signature(FUNCTIONS[name]).parameters
    for field in dataclasses.fields(VERIFIERS[name].config):
        if field.name == "domains":  # the verify stage's routing, not the function's
            continue
        assert field.name in params, f"{name}: {field.name} is not an option of {FUNCTIONS[name].__name__}"
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        if field.name not in FROM_THE_ROW.get(name, ()):
            expected = params[field.name].default
            assert default == (list(expected) if isinstance(expected, tuple) else expected), (name, field.name)


def test_configs_are_frozen_and_the_registry_builds_them_from_plain_options():
    config = VERIFIERS["math"].config(extract="bare")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.extract = "auto"  # type: ignore[misc]
    assert VERIFIERS["math"]({"completion": "-5", "gold": "-5"}, extract="bare").passed
    assert not VERIFIERS["math"]({"completion": "-5", "gold": "-5"}).passed  # traces need a box by default
