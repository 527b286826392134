"""Math and code take their frozen config whole; every text verifier's config field is a keyword of
the function it configures, with the same default."""

import dataclasses
import importlib
import inspect

import pytest

import verifiers
from verifiers import VERIFIERS, CodeConfig, MathConfig
from verifiers.code import verify_code, verify_code_batch, verify_code_response
from verifiers.format import check_format
from verifiers.language import language_consistency
from verifiers.math import verify_math, verify_math_batch
from verifiers.readability import check_readability

FUNCTIONS = {"format": check_format, "language": language_consistency, "readability": check_readability}
FROM_THE_ROW = {"language": {"target"}}  # None in the config: the problem's own value is used
WHOLE = [(verify_math, MathConfig), (verify_math_batch, MathConfig), (verify_code, CodeConfig),
         (verify_code_response, CodeConfig), (verify_code_batch, CodeConfig)]


@pytest.mark.parametrize(("function", "config"), WHOLE, ids=[fn.__name__ for fn, _ in WHOLE])
def test_math_and_code_take_their_config_whole(function, config):
    params = inspect.signature(function).parameters
    assert params["config"].kind is inspect.Parameter.KEYWORD_ONLY and params["config"].default is None
    assert config.__name__ in str(params["config"].annotation)
    # no field comes in as a loose keyword any more (verify_code's language names the program's own)
    loose = {f.name for f in dataclasses.fields(config)} & set(params) - {"language"}
    assert not loose, f"{function.__name__} still takes {sorted(loose)} as keywords"
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def test_the_config_is_what_decides_and_a_wrong_one_is_a_value_error():
    assert verify_math("-5", "-5", config=MathConfig(extract="bare")).passed
    assert verify_math("-5", "-5").reason == "no_answer"  # the default config wants a box
    assert [v.passed for v in verify_math_batch([("-5", "-5")], config=MathConfig(extract="bare"))] == [True]
    with pytest.raises(ValueError, match="MathConfig"):
        verify_math("-5", "-5", config={"extract": "bare"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="extract"):
        verify_math("-5", "-5", config=MathConfig(extract="nearest"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verify_math("-5", "-5", extract="bare")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="CodeConfig"):
        verify_code_batch([("print(1)", [{"output": "1"}])], config=MathConfig())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="checker"):
        verify_code("print(1)", [{"output": "1"}], config=CodeConfig(checker="fuzzy"))


def test_the_batch_verifiers_are_public():
    for name in ("verify_code_batch", "verify_code_response", "verify_math_batch"):
        assert name in verifiers.__all__
        assert getattr(verifiers, name) is getattr(importlib.import_module(getattr(verifiers, name).__module__), name)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
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
