"""The MLflow versions of a service's model: the name rule, registration, aliases, tags, and loading a version back."""

from pathlib import Path

import pytest

from taxi_assets.features.columns import EXAMPLE_TRIP
from taxi_assets.model.versions import CHAMPION, PREVIOUS_CHAMPION, ModelRegistry, experiment_name, model_name
from taxi_assets_tests.champions import Trained, register, tiny_champions


def test_each_service_has_one_model_and_one_experiment_by_the_same_name() -> None:
    assert model_name("green") == experiment_name("green") == "taxi-fare-green"
    assert model_name("yellow") == "taxi-fare-yellow"
    with pytest.raises(ValueError, match="unknown TLC service 'fhv'"):
        model_name("fhv")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return tiny_champions(tmp_path_factory.mktemp("tiny-champions"))


def test_versions_are_registered_aliased_tagged_and_load_as_they_were_exported(
    trained: Trained, tmp_path: Path
) -> None:
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}", (tmp_path / "artifacts").as_uri())
    name = model_name("green")
    assert registry.alias(name, CHAMPION) is None
    first = register(registry, trained, "a")
    second = register(registry, trained, "b", alias=None)
    assert (first, second) == ("1", "2")
    assert registry.alias(name, CHAMPION) == "1"
    registry.set_alias(name, PREVIOUS_CHAMPION, first)
    registry.set_alias(name, CHAMPION, second)
    assert (registry.alias(name, CHAMPION), registry.alias(name, PREVIOUS_CHAMPION)) == ("2", "1")
    registry.delete_alias(name, PREVIOUS_CHAMPION)
    assert registry.alias(name, PREVIOUS_CHAMPION) is None
    registry.tag_version(name, second, {"decision.action": "promote"})
    assert registry.version_tags(name, second)["decision.action"] == "promote"
    loaded = registry.load_fare_model(name, second)
    exported = trained.serving_dirs["b"]
    assert loaded.spec.to_json() == (exported / "feature_spec.json").read_text()
    pyfunc = registry.load_pyfunc(name, first)
    assert pyfunc.model is not None
    assert pyfunc.model.predict_row(EXAMPLE_TRIP) != loaded.predict_row(EXAMPLE_TRIP)  # a and b differ by scale
