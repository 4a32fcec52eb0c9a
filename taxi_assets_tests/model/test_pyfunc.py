"""The pyfunc class keeps loading from versions registered under the module's former names."""

import pickle

import pytest

from taxi_assets.model.pyfunc import FORMER_MODULES, FarePyfunc


@pytest.mark.parametrize("former_module", FORMER_MODULES)
def test_a_model_pickled_under_a_former_module_name_loads_as_the_current_class(former_module: str) -> None:
    # what MLflow's cloudpickle wrote for a version registered before a move: a reference by module and name
    former = f"c{former_module}\nFarePyfunc\n.".encode()
    assert pickle.loads(former) is FarePyfunc
    assert pickle.loads(pickle.dumps(FarePyfunc)) is FarePyfunc
    assert FarePyfunc.__module__ == "taxi_assets.model.pyfunc"
