"""The feature spec stored beside the ONNX model: what it says survives its JSON."""

from taxi_assets.features.columns import CATEGORICAL_FEATURES
from taxi_assets.model.spec import ONNX_INPUT, ONNX_OUTPUT, FeatureSpec


def test_a_spec_reads_back_exactly_what_was_written() -> None:
    spec = FeatureSpec(
        columns=["trip_distance", "pickup_borough_index"],
        categories={"pickup_borough": ["Manhattan", "Queens"], "payment_type": ["1", "2"]},
    )
    assert FeatureSpec.from_json(spec.to_json()) == spec
    assert FeatureSpec.from_json(spec.to_json()).categories["pickup_borough"] == ["Manhattan", "Queens"]


def test_the_onnx_names_are_distinct_and_name_no_feature() -> None:
    assert ONNX_INPUT != ONNX_OUTPUT
    assert ONNX_OUTPUT not in CATEGORICAL_FEATURES
