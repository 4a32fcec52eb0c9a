"""The API through Litestar's test client, on a champion registered in MLflow.

The champion here is a small ensemble written by hand (``champions.tiny_champions``): these tests are about the
API's own behaviour, need no Spark and run in the fast tier. A Spark-trained champion is served in
``serving/test_spark_champion.py`` and by the real servers of ``serving/test_server.py`` and
``serving/test_contract.py``.
"""

import pytest

from taxi_assets_tests.champions import Trained, tiny_champions


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """This module's champions: no Spark (the session-wide ``trained`` of ``conftest.py`` trains them with it)."""
    return tiny_champions(tmp_path_factory.mktemp("tiny-champions"))
