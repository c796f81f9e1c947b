"""Tests for bngan.config: validation, JSON round trip, hashing, vary()."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from bngan import config as config_mod
from bngan.config import ConfigError, DataConfig, ExperimentConfig, ModelConfig, TrainConfig


def mlp_toy(**model) -> ExperimentConfig:
    return ExperimentConfig(data=DataConfig(kind="toy", toy="ring", toy_samples=512),
                            model=ModelConfig(arch="mlp", **model))


def rich_config() -> ExperimentConfig:
    """A config that exercises tuple and None-able fields."""
    return ExperimentConfig(
        name="rich",
        description="tuple fields",
        data=DataConfig(dataset="digits", image_size=16, n_train=200, channels=1),
        model=ModelConfig(g_filters=(96, 48), d_filters=(16, 32)),
        train=TrainConfig(real_label=(0.7, 1.0), fake_label=(0.0, 0.3), flip_prob=0.05, batch_size=32),
    )


def field_match(field: str, allowed: str) -> str:
    return re.escape(field) + ".*" + re.escape(allowed)


# --------------------------------------------------------------------- basics


def test_config_error_is_value_error():
    assert issubclass(ConfigError, ValueError)
    with pytest.raises(ValueError):
        ExperimentConfig(train=TrainConfig(routine="nope"))


def test_defaults_validate():
    cfg = ExperimentConfig()
    cfg.data.validate()
    cfg.model.validate()
    cfg.train.validate()
    assert cfg.train.routine in config_mod.ROUTINES
    assert mlp_toy().model.arch == "mlp"


# --------------------------------------------------------------------- JSON


@pytest.mark.parametrize("make", [ExperimentConfig, rich_config,
                                  lambda: mlp_toy(depth=3, g_norms=("batch", "none", "layer"),
                                                  d_norms=("spectral", "none", "none"))])
def test_json_round_trip(make):
    cfg = make()
    back = ExperimentConfig.from_json(cfg.to_json())
    assert back == cfg
    assert back.hash() == cfg.hash()
    assert back.name == cfg.name and back.description == cfg.description


def test_round_trip_keeps_tuples():
    cfg = rich_config()
    back = ExperimentConfig.from_json(cfg.to_json())
    assert isinstance(back.model.g_filters, tuple)
    assert isinstance(back.model.d_filters, tuple)
    assert back.train.real_label == (0.7, 1.0)
    assert isinstance(back.train.real_label, tuple)
    assert back.train.fake_label == (0.0, 0.3)
    mlp = mlp_toy(g_norms=("batch", "none"), d_norms=("none", "layer"))
    back = ExperimentConfig.from_json(mlp.to_json())
    assert back.model.g_norms == ("batch", "none") and isinstance(back.model.g_norms, tuple)
    assert back.model.d_norms == ("none", "layer")
    hash(back)  # frozen dataclasses with tuples stay hashable


def test_to_json_is_plain_json():
    raw = json.loads(rich_config().to_json())
    assert set(raw) == {"name", "description", "data", "model", "train"}
    assert raw["train"]["real_label"] == [0.7, 1.0]
    assert raw["data"]["n_train"] == 200


def test_from_dict_missing_sections_use_defaults():
    cfg = ExperimentConfig.from_dict({"train": {"steps": 5}})
    assert cfg.train.steps == 5
    assert cfg.model == ModelConfig()
    assert cfg.data == DataConfig()
    assert cfg.name == ExperimentConfig().name


def test_from_dict_refuses_unknown_top_level_field():
    raw = ExperimentConfig().to_dict()
    raw["optimiser"] = "adam"
    with pytest.raises(ConfigError, match="optimiser"):
        ExperimentConfig.from_dict(raw)


@pytest.mark.parametrize("section, name", [("data", "colour"), ("model", "layers"), ("train", "epochs")])
def test_from_dict_refuses_unknown_section_field(section, name):
    raw = ExperimentConfig().to_dict()
    raw[section][name] = 1
    with pytest.raises(ConfigError, match=field_match(section, name)):
        ExperimentConfig.from_dict(raw)


def test_from_dict_validates():
    raw = ExperimentConfig().to_dict()
    raw["train"]["loss"] = "hinge"
    with pytest.raises(ConfigError, match="train.loss"):
        ExperimentConfig.from_dict(raw)


# --------------------------------------------------------------------- hash


def test_hash_is_stable_and_short_hex():
    cfg = rich_config()
    h = cfg.hash()
    assert h == cfg.hash() == rich_config().hash()
    assert re.fullmatch(r"[0-9a-f]{16}", h)


def test_hash_ignores_name_and_description():
    cfg = ExperimentConfig()
    renamed = cfg.vary(name="other", description="something else")
    assert renamed.name == "other" and renamed.description == "something else"
    assert renamed.hash() == cfg.hash()
    assert renamed != cfg


@pytest.mark.parametrize("key, value", [
    ("steps", 1001),
    ("batch_size", 32),
    ("routine", "combined"),
    ("g_bn_mode", "eval"),
    ("loss", "lsgan"),
    ("real_label", (0.8, 1.0)),
    ("flip_prob", 0.1),
    ("lr_d", 1e-4),
    ("norm", "layer"),
    ("norm_in", "d"),
    ("g_bn_momentum", 0.2),
    ("g_filters", (64, 32)),
    ("latent_dim", 64),
    ("dataset", "mnist"),
    ("image_size", 28),
    ("n_train", 500),
    ("channels", 3),
])
def test_hash_changes_with_any_field(key, value):
    base = ExperimentConfig()
    changed = base.vary(**{key: value})
    assert changed != base
    assert changed.hash() != base.hash()


def test_hashes_distinct_across_fields():
    base = ExperimentConfig()
    variants = [base.vary(steps=2), base.vary(batch_size=2), base.vary(log_every=2), base.vary(d_steps=2)]
    assert len({v.hash() for v in variants} | {base.hash()}) == 5


# --------------------------------------------------------------------- vary


def test_vary_by_plain_name_and_dotted_path_agree():
    base = ExperimentConfig()
    plain = base.vary(batch_size=32, norm="none", dataset="mnist")
    dotted = base.vary(**{"train.batch_size": 32, "model.norm": "none", "data.dataset": "mnist"})
    assert plain == dotted
    assert plain.train.batch_size == 32
    assert plain.model.norm == "none"
    assert plain.data.dataset == "mnist"
    # everything else untouched, and the original is unchanged
    assert plain.train.steps == base.train.steps
    assert base.train.batch_size == TrainConfig().batch_size
    assert base.model.norm == "batch"


def test_vary_normalises_lists_to_tuples():
    cfg = ExperimentConfig().vary(real_label=[0.7, 1.0], g_filters=[32, 16])
    assert cfg.train.real_label == (0.7, 1.0)
    assert cfg.model.g_filters == (32, 16)
    assert cfg.hash() == ExperimentConfig().vary(real_label=(0.7, 1.0), g_filters=(32, 16)).hash()


@pytest.mark.parametrize("key", ["batchsize", "train.norm", "optim.lr", "data.steps"])
def test_vary_unknown_field(key):
    with pytest.raises(ConfigError, match=re.escape(repr(key))):
        ExperimentConfig().vary(**{key: 1})


def test_vary_unknown_field_lists_known_fields():
    with pytest.raises(ConfigError) as info:
        ExperimentConfig().vary(bogus=1)
    message = str(info.value)
    for known in ("batch_size", "routine", "norm", "dataset"):
        assert known in message


def test_vary_revalidates():
    with pytest.raises(ConfigError, match=field_match("train.routine", "'separate'")):
        ExperimentConfig().vary(routine="both")
    with pytest.raises(ConfigError, match="train.batch_size"):
        ExperimentConfig().vary(**{"train.batch_size": 1})
    # cross-section checks run on the result too
    with pytest.raises(ConfigError, match="model.g_kernel"):
        ExperimentConfig().vary(image_size=16, g_kernel=9)


# --------------------------------------------------------------------- refusals


def test_unknown_routine():
    with pytest.raises(ConfigError, match=field_match("train.routine", "'combined'")):
        ExperimentConfig(train=TrainConfig(routine="joint"))


def test_unknown_g_bn_mode():
    with pytest.raises(ConfigError, match=field_match("train.g_bn_mode", "'eval'")):
        ExperimentConfig(train=TrainConfig(g_bn_mode="frozen"))


def test_unknown_loss():
    with pytest.raises(ConfigError, match=field_match("train.loss", "'lsgan'")):
        ExperimentConfig(train=TrainConfig(loss="wasserstein"))


def test_batch_size_one_with_batch_norm():
    with pytest.raises(ConfigError, match=field_match("train.batch_size", "at least 2")):
        ExperimentConfig(train=TrainConfig(batch_size=1))


def test_batch_size_one_with_batch_norm_in_mlp():
    with pytest.raises(ConfigError, match="train.batch_size"):
        ExperimentConfig(data=DataConfig(kind="toy"), model=ModelConfig(arch="mlp", norm="none",
                                                                        g_norms=("batch", "none")),
                         train=TrainConfig(batch_size=1))


def test_batch_size_one_without_batch_norm():
    cfg = ExperimentConfig(model=ModelConfig(norm="none"), train=TrainConfig(batch_size=1))
    assert cfg.train.batch_size == 1
    cfg = ExperimentConfig(model=ModelConfig(norm="batch", norm_in="none"), train=TrainConfig(batch_size=1))
    assert cfg.train.batch_size == 1
    cfg = ExperimentConfig(model=ModelConfig(norm="layer"), train=TrainConfig(batch_size=1))
    assert cfg.model.norm == "layer"


def test_batch_size_above_n_train():
    with pytest.raises(ConfigError, match=field_match("train.batch_size", "data.n_train = 50")):
        ExperimentConfig(data=DataConfig(n_train=50), train=TrainConfig(batch_size=64))
    assert ExperimentConfig(data=DataConfig(n_train=64), train=TrainConfig(batch_size=64)).data.n_train == 64


def test_batch_size_above_toy_samples():
    with pytest.raises(ConfigError, match=field_match("train.batch_size", "data.toy_samples = 32")):
        ExperimentConfig(data=DataConfig(kind="toy", toy_samples=32), model=ModelConfig(arch="mlp"),
                         train=TrainConfig(batch_size=64))


def test_keras_kernel_too_big_for_image():
    with pytest.raises(ConfigError, match=field_match("model.g_kernel", "at most 8")):
        ExperimentConfig(data=DataConfig(image_size=16), model=ModelConfig(g_kernel=9))
    assert ExperimentConfig(data=DataConfig(image_size=16), model=ModelConfig(g_kernel=8)).model.g_kernel == 8
    with pytest.raises(ConfigError, match=field_match("model.d_kernel", "at most 16")):
        ExperimentConfig(data=DataConfig(image_size=16), model=ModelConfig(d_kernel=17))


def test_radford_needs_kernel_four():
    with pytest.raises(ConfigError, match=field_match("model.g_kernel", "4")):
        ExperimentConfig(model=ModelConfig(arch="radford", g_kernel=3, d_kernel=4))
    with pytest.raises(ConfigError, match="model.d_kernel"):
        ExperimentConfig(model=ModelConfig(arch="radford", g_kernel=4, d_kernel=5))
    assert ExperimentConfig(model=ModelConfig(arch="radford", g_kernel=4, d_kernel=4)).model.arch == "radford"


def test_toy_data_with_keras():
    with pytest.raises(ConfigError, match=field_match("model.arch", "'mlp'")):
        ExperimentConfig(data=DataConfig(kind="toy"), model=ModelConfig(arch="keras"))


def test_image_data_with_mlp():
    with pytest.raises(ConfigError, match=field_match("model.arch", "'keras'")):
        ExperimentConfig(model=ModelConfig(arch="mlp"))


@pytest.mark.parametrize("field, value", [
    ("real_label", 1.3), ("real_label", -0.1), ("fake_label", (0.0, 1.5)), ("fake_label", (-0.2, 0.3)),
])
def test_label_out_of_range(field, value):
    with pytest.raises(ConfigError, match=field_match(f"train.{field}", "[0.0, 1.2]")):
        ExperimentConfig(train=TrainConfig(**{field: value}))


def test_label_edges_allowed():
    cfg = ExperimentConfig(train=TrainConfig(real_label=(1.0, 1.2), fake_label=0.0))
    assert cfg.train.real_label == (1.0, 1.2)


def test_label_range_low_above_high():
    with pytest.raises(ConfigError, match=field_match("train.real_label", "low <= high")):
        ExperimentConfig(train=TrainConfig(real_label=(1.0, 0.7)))


def test_label_range_wrong_length():
    with pytest.raises(ConfigError, match="train.fake_label"):
        ExperimentConfig(train=TrainConfig(fake_label=(0.0, 0.1, 0.2)))


def test_flip_prob_too_high():
    with pytest.raises(ConfigError, match=field_match("train.flip_prob", "[0.0, 0.5]")):
        ExperimentConfig(train=TrainConfig(flip_prob=0.6))
    assert ExperimentConfig(train=TrainConfig(flip_prob=0.5)).train.flip_prob == 0.5


def test_g_norms_wrong_length():
    with pytest.raises(ConfigError, match=field_match("model.g_norms", "2 kinds")):
        mlp_toy(g_norms=("batch",))
    with pytest.raises(ConfigError, match=field_match("model.d_norms", "3 kinds")):
        mlp_toy(depth=3, d_norms=("none", "none"))


def test_g_norms_unknown_kind():
    with pytest.raises(ConfigError, match=field_match("model.g_norms", "'batch'")):
        mlp_toy(g_norms=("batch", "magic"))


def test_g_norms_only_for_mlp():
    with pytest.raises(ConfigError, match="model.g_norms"):
        ExperimentConfig(model=ModelConfig(g_norms=("batch", "batch")))


def test_unknown_norm():
    with pytest.raises(ConfigError, match=field_match("model.norm", "'batch'")):
        ExperimentConfig(model=ModelConfig(norm="whitening"))


def test_unknown_image_size():
    with pytest.raises(ConfigError, match=field_match("data.image_size", "32")):
        ExperimentConfig(data=DataConfig(image_size=30))


def test_unknown_dataset():
    with pytest.raises(ConfigError, match=field_match("data.dataset", "'cifar10'")):
        ExperimentConfig(data=DataConfig(dataset="imagenet"))


def test_unknown_toy_ignored_fields_for_image_but_checked_for_toy():
    # image configs do not care about the toy field; toy configs do
    assert ExperimentConfig(data=DataConfig(toy="spiral")).data.toy == "spiral"
    with pytest.raises(ConfigError, match=field_match("data.toy", "'ring'")):
        ExperimentConfig(data=DataConfig(kind="toy", toy="spiral"), model=ModelConfig(arch="mlp"))


@pytest.mark.parametrize("section, kwargs, name", [
    ("data", {"kind": "video"}, "data.kind"),
    ("data", {"channels": 2}, "data.channels"),
    ("data", {"n_train": 0}, "data.n_train"),
    ("model", {"g_filters": (64,)}, "model.g_filters"),
    ("model", {"d_filters": ()}, "model.d_filters"),
    ("model", {"g_bn_momentum": 0.0}, "model.g_bn_momentum"),
    ("model", {"dropout": 1.0}, "model.dropout"),
    ("model", {"latent_dim": True}, "model.latent_dim"),
    ("train", {"optimizer": "sgd"}, "train.optimizer"),
    ("train", {"steps": 0}, "train.steps"),
    ("train", {"lr_g": 0.0}, "train.lr_g"),
    ("train", {"beta1": 1.0}, "train.beta1"),
    ("train", {"eval_every": -1}, "train.eval_every"),
])
def test_other_refusals_name_field(section, kwargs, name):
    cls = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}[section]
    with pytest.raises(ConfigError, match=re.escape(name)):
        ExperimentConfig(**{section: cls(**kwargs)})


def test_config_is_frozen():
    cfg = ExperimentConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.steps = 3  # type: ignore[misc]


@pytest.mark.parametrize("value", [("high", 1.0), (None, 1.0), (0.5, "x")])
def test_label_pair_with_non_number_is_config_error(value):
    # regression: used to raise a bare TypeError from comparing low > high
    with pytest.raises(ConfigError, match=field_match("train.real_label", "[0.0, 1.2]")):
        ExperimentConfig(train=TrainConfig(real_label=value))


def test_label_pair_with_null_from_json_is_config_error():
    raw = ExperimentConfig().to_dict()
    raw["train"]["fake_label"] = [None, 0.2]
    with pytest.raises(ConfigError, match="train.fake_label"):
        ExperimentConfig.from_json(json.dumps(raw))



# --------------------------------------------------------------------- every field is hashed

# Fields whose change is valid only together with others (the companions stay the same on both
# sides of the comparison, so the field alone must move the hash).
COMPANIONS = {
    "data.kind": ({"arch": "mlp"}, "toy"),
    "data.toy": ({"kind": "toy", "arch": "mlp"}, "ring"),  # checked only for toy data
    "model.arch": ({"g_kernel": 4}, "radford"),
    "model.wn_activation": ({"norm": "weight", "placement": "all"}, "relu"),
    "model.extra_layers": ({"arch": "radford", "g_kernel": 4}, 1),
    "model.g_norms": ({"arch": "mlp", "kind": "toy"}, ("batch", "none")),
    "model.d_norms": ({"arch": "mlp", "kind": "toy"}, ("batch", "none")),
    "model.match_moments": ({"arch": "mlp", "kind": "toy"}, True),
}


def another_valid_value(base: ExperimentConfig, key: str, value):
    """A value of ``key`` other than ``value`` that the config accepts on its own: the next
    integer, half the float, the other bool, another allowed string (read from the error that
    an unknown one gets), the list with every width + 1."""
    import re

    if isinstance(value, bool):
        tries = [not value]
    elif isinstance(value, int):
        tries = [value + 1, value * 2, 1, 2, 0]
    elif isinstance(value, float):
        tries = [value * 0.5, value + 0.1, 0.5, 1e-3]
    elif isinstance(value, str):
        with pytest.raises(ConfigError) as refused:
            base.vary(**{key: "not-an-allowed-value"})
        tries = [a for a in re.findall(r"'([^']*)'", str(refused.value).split(";")[0]) if a != value]
    elif isinstance(value, tuple):
        tries = [tuple(v + 1 for v in value) if all(isinstance(v, int) for v in value) else value[::-1]]
    else:  # None
        tries = [3, 1, 100]
    for candidate in (t for t in tries if t != value):
        try:
            return base.vary(**{key: candidate}) and candidate
        except ConfigError:
            continue
    raise AssertionError(f"no other valid value found for {key}; add it to COMPANIONS")


ALL_FIELDS = [f"{section}.{f.name}" for section in ("data", "model", "train")
              for f in dataclasses.fields(getattr(ExperimentConfig(), section))]


@pytest.mark.parametrize("key", ALL_FIELDS)
def test_every_config_field_changes_the_hash_on_its_own(key):
    """Generated from the config's own field list, so a field added later is covered: a cached
    run can never be loaded for a config that differs in any field."""
    base = ExperimentConfig()
    if key in COMPANIONS:
        companions, value = COMPANIONS[key]
        with_field = base.vary(**companions, **{key: value})
        without = base if key == "data.kind" else base.vary(**companions)  # kind cannot change alone
    else:
        section, name = key.split(".")
        value = another_valid_value(base, key, getattr(getattr(base, section), name))
        with_field, without = base.vary(**{key: value}), base
    assert with_field != without and with_field.hash() != without.hash(), key


# --------------------------------------------------------------------- sections, numpy numbers, names (issue 46)


def test_sections_given_as_dicts_are_built_like_from_dict():
    built = ExperimentConfig(data={"dataset": "digits", "image_size": 16}, train={"steps": 5})
    assert built == ExperimentConfig(data=DataConfig(dataset="digits", image_size=16), train=TrainConfig(steps=5))
    assert built.hash() == ExperimentConfig.from_dict({"data": {"dataset": "digits", "image_size": 16},
                                                        "train": {"steps": 5}}).hash()
    with pytest.raises(ConfigError, match="unknown fields in data"):
        ExperimentConfig(data={"no_such_field": 1})
    with pytest.raises(ConfigError, match="model must be a ModelConfig or a dict of its fields"):
        ExperimentConfig(model="radford")


def test_numpy_numbers_are_accepted_as_the_plain_numbers_they_equal():
    np = pytest.importorskip("numpy")
    plain = rich_config()
    given = plain.vary(steps=np.int64(plain.train.steps), batch_size=np.int32(32), lr_d=np.float64(2e-4),
                       g_filters=(np.int64(96), np.int64(48)), deterministic=np.bool_(False))
    assert given == plain and given.hash() == plain.hash()
    assert type(given.train.steps) is int and type(given.model.g_filters[0]) is int
    assert type(given.train.lr_d) is float and type(given.train.deterministic) is bool
    assert json.loads(given.to_json()) == json.loads(plain.to_json())
    with pytest.raises(ConfigError, match="train.steps"):
        plain.vary(steps=np.float64(5.0))
    with pytest.raises(ConfigError, match="train.steps"):
        plain.vary(steps=np.bool_(True))


@pytest.mark.parametrize("changes,field", [({"name": None}, "name"), ({"name": 3}, "name"),
                                           ({"description": None}, "description"),
                                           ({"n_train": 2**70}, "data.n_train"), ({"steps": 2**70}, "train.steps")])
def test_names_and_huge_counts_are_refused_on_one_line(changes, field):
    with pytest.raises(ConfigError, match=rf"^{re.escape(field)} must be") as caught:
        rich_config().vary(**changes)
    assert "\n" not in str(caught.value)
