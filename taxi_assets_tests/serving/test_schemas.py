"""The response bodies as clients read them: exact field names, keyword-only, and a round trip through JSON."""

import msgspec
import pytest

from taxi_serving.schemas import BatchResponse, FeedbackResponse, FieldError, Prediction


def test_a_batch_encodes_its_predictions_in_order_with_every_field() -> None:
    batch = BatchResponse(
        predictions=[
            Prediction(request_id=f"r{i}", fare=10.0 + i, model_version="2", arm="champion", served_at="t")
            for i in range(2)
        ]
    )
    decoded = msgspec.json.decode(msgspec.json.encode(batch))
    assert [p["request_id"] for p in decoded["predictions"]] == ["r0", "r1"]
    assert set(decoded["predictions"][0]) == {"request_id", "fare", "model_version", "arm", "served_at"}
    assert msgspec.json.decode(msgspec.json.encode(batch), type=BatchResponse) == batch


def test_feedback_and_field_errors_say_what_they_name() -> None:
    feedback = FeedbackResponse(request_id="r1", prediction=12.0, actual_fare=14.5, error=-2.5)
    assert msgspec.to_builtins(feedback) == {"request_id": "r1", "prediction": 12.0, "actual_fare": 14.5, "error": -2.5}
    error = FieldError(field="trip_distance", value=-1, constraint="0.1 <= trip_distance <= 100")
    assert msgspec.to_builtins(error)["constraint"] == "0.1 <= trip_distance <= 100"


def test_bodies_are_built_by_keyword_only() -> None:
    with pytest.raises(TypeError):
        Prediction("r1", 10.0, "2", "champion", "t")
