"""The pyfunc class keeps loading from versions registered under the module's former name."""

import pickle

from taxi_assets.training.pyfunc import FORMER_MODULE, FarePyfunc


def test_a_model_pickled_under_the_former_module_name_loads_as_the_current_class() -> None:
    # what MLflow's cloudpickle wrote for a version registered before the move: a reference by module and name
    former = f"c{FORMER_MODULE}\nFarePyfunc\n.".encode()
    assert pickle.loads(former) is FarePyfunc
    assert pickle.loads(pickle.dumps(FarePyfunc)) is FarePyfunc
