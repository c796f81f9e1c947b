"""Every validated config field refuses a bad value with a message that names it. The cases are
generated from the dataclasses, so a field added later is covered by construction: a new
field that accepts garbage fails here until it is validated (or listed as free-form)."""

from __future__ import annotations

import math
from dataclasses import fields

import pytest

from bngan.config import ConfigError, DataConfig, ModelConfig, TrainConfig
from bngan.experiments import blind_spot, table2

# Values no field of its type may take.
BAD_BY_TYPE = {
    "int": [-7, "3", 2.5, True, 2**70],
    "int | None": [-7, "3", 2**70],
    "float": [math.nan, math.inf, "0.1", True],
    "str": ["no-such-choice", 3],
    "bool": ["yes", 2],
    "Label": [math.nan, (0.5,), (0.9, 0.1), -0.5, 5.0],
    "tuple[int, ...]": [(), (0,), ("a",)],
    "tuple[str, ...] | None": [("no-such-norm", "batch"), ("batch",)],
}
FREE_FORM: set[str] = set()  # fields that accept any value of their type (none today)

CASES = [(section, f.name, bad) for section in (DataConfig, ModelConfig, TrainConfig) for f in fields(section)
         if f.name not in FREE_FORM for bad in BAD_BY_TYPE[f.type]]


def base_for(section, name):
    if name in ("toy", "toy_samples") or name in ("g_norms", "d_norms", "match_moments"):
        return blind_spot("bn", "smoke")
    return table2(10, "smoke")


def test_every_field_has_bad_values_to_try():
    missing = {f"{s.__name__}.{f.name}: {f.type}" for s in (DataConfig, ModelConfig, TrainConfig)
               for f in fields(s) if f.type not in BAD_BY_TYPE}
    assert not missing, f"add bad values for these field types: {missing}"


@pytest.mark.parametrize("section,name,bad", CASES, ids=[f"{s.__name__}.{n}={b!r}" for s, n, b in CASES])
def test_a_bad_value_is_refused_naming_the_field(section, name, bad):
    with pytest.raises(ConfigError, match=name):
        base_for(section, name).vary(**{f"{_prefix(section)}.{name}": bad})


def _prefix(section) -> str:
    return {DataConfig: "data", ModelConfig: "model", TrainConfig: "train"}[section]


def test_transposed_upsampling_is_refused_outside_the_keras_generator():
    from bngan.config import ConfigError, ExperimentConfig

    base = ExperimentConfig()
    assert base.vary(g_upsample="transposed").model.g_upsample == "transposed"
    for arch in ("radford", "mlp"):
        with pytest.raises(ConfigError, match="model.g_upsample"):
            base.vary(arch=arch, g_upsample="transposed")
