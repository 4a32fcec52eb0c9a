"""``POST /predict?explain=true``: what each feature added to the fare, in dollars and in words.

The served version's own trees answer (``taxi_assets.model.explain``: exact TreeSHAP on the trees the version
was trained with, no JVM): ``base_fare`` + the contributions + ``floor_adjustment`` is the fare returned. Without
the flag none of this runs; a version registered before its trees were exported cannot explain (409).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qsl

from taxi_assets.model.reasons import why_this_fare
from taxi_serving.errors import ConflictError
from taxi_serving.model_store import LoadedModel
from taxi_serving.schemas import Explanation, FieldError

EXPLAIN_PARAMETER: Final = "explain"
_ANSWERS: Final = {"true": True, "1": True, "false": False, "0": False}


def wants_explanation(query_string: bytes, errors: list[FieldError]) -> bool:
    """Whether the query string asks for an explanation; a value that is not a yes or no is added to ``errors``."""
    if not query_string:
        return False
    wanted = False
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key != EXPLAIN_PARAMETER:
            continue
        if value.lower() not in _ANSWERS:
            errors.append(FieldError(field=EXPLAIN_PARAMETER, value=value[:64], constraint="true, false, 1 or 0"))
            return False
        wanted = _ANSWERS[value.lower()]
    return wanted


def explanation(model: LoadedModel, trip: Mapping[str, Any], fare: float) -> Explanation:
    """Why ``model`` priced ``trip`` at ``fare``: its base, each feature's contribution and the floor's, in USD."""
    explainer = model.explainer
    if explainer is None:
        raise ConflictError(
            f"model version {model.version} cannot explain its fares: it was registered before versions carried "
            "their trees for explanations; retrain it, or ask without explain"
        )
    why = why_this_fare(model.model, explainer, trip, fare)
    return Explanation(
        base_fare=why.base_fare,
        contributions=why.contributions,
        floor_adjustment=why.floor_adjustment,
        reasons=why.reasons,
    )
