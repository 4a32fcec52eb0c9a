"""What the API's test-client tests share: the logged rows, and the check that no body carries a stack trace."""

import sqlalchemy as sa

from taxi_assets.platform_db.prediction_log import PREDICTION_LOG
from taxi_assets_tests.serving.support import Served

TRACE_MARKERS = ("Traceback", 'File "', "Error:", "Exception")


def log_rows(served: Served) -> list[dict[str, object]]:
    served.app.state.serving.sink.flush()
    engine = sa.create_engine(f"sqlite:///{served.home / 'platform.db'}")
    with engine.connect() as connection:
        rows = [dict(row) for row in connection.execute(sa.select(PREDICTION_LOG)).mappings()]
    engine.dispose()
    return rows


def assert_no_trace(body: str) -> None:
    for marker in TRACE_MARKERS:
        assert marker not in body
