"""The API's own documentation, served offline."""

from taxi_assets_tests.serving.support import Served


def test_the_schema_documents_the_request_bodies(served: Served) -> None:
    schema = served.client.get("/schema/openapi.json").json()
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["pickup_hour"]["maximum"] == 23
    assert "trip_distance" in body["required"]
    assert "/predict/batch" in schema["paths"]
