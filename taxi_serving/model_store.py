"""Loads the champion (and challenger) through their MLflow aliases, polls them, and hot-swaps.

The challenger's rollout stage is read from its version's tags at each poll: the platform moves a challenger
into shadow, A/B or the guardrail by tagging it, and every worker follows within one poll.

A swap replaces one reference: a request reads ``store.champion`` once and uses that object to the end, so no
request fails or waits while a new version loads in the background. When the registry cannot be reached, the
last loaded models keep serving; at start-up the last champion can be loaded from the local cache.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import requests
import sqlalchemy.exc
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

from taxi_assets.model.explain import EXPLAIN_FILE, FareExplainer
from taxi_assets.model.fare_model import FareModel
from taxi_assets.model.profile import PROFILE_FILE, ReferenceProfile
from taxi_assets.model.versions import CHALLENGER, CHAMPION, ModelRegistry
from taxi_assets.registry.rollout import Stage
from taxi_serving.validation import TripValidator

log = logging.getLogger("taxi_serving.model_store")
VERSION_FILE: Final = "version.txt"
REGISTRY_ERRORS: Final = (MlflowException, OSError, requests.RequestException, sqlalchemy.exc.SQLAlchemyError)


@dataclass(frozen=True)
class LoadedModel:
    """One model version ready to score: the model, its validator, and where it came from."""

    alias: str
    version: str
    model: FareModel
    validator: TripValidator
    metrics: dict[str, float]
    loaded_at: datetime
    source: str
    cache_path: Path
    # its trees for explanations (versions registered before they were exported have none)
    explainer: FareExplainer | None = None


class ModelStore:
    """The served models. ``refresh`` is blocking (run it in a thread); reads are plain attribute reads."""

    def __init__(self, tracking_uri: str, model_name: str, cache_dir: Path, with_challenger: bool) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.cache_dir = cache_dir / model_name
        self.with_challenger = with_challenger
        self.champion: LoadedModel | None = None
        self.challenger: LoadedModel | None = None
        # the challenger's rollout stage (shadow, A/B, the guardrail), read from its version's tags at each poll
        self.stage: Stage | None = None
        self.registry_reachable = False
        self.last_error: str | None = None
        self.reloads = 0
        # versions an alias pointed at that failed a blocking check, with the checks: never loaded
        self.refused: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        """First load: from the registry, or from the local cache when the registry cannot be reached."""
        self.refresh()
        if self.champion is None and not self.registry_reachable:
            self.champion = self._from_cache(CHAMPION)

    def refresh(self) -> None:
        """Resolve the aliases; load and swap in any version that changed. Never raises for registry outages."""
        with self._lock:
            try:
                registry = ModelRegistry(self.tracking_uri)
                champion = self._resolve(registry, CHAMPION)
                challenger = self._resolve(registry, CHALLENGER) if self.with_challenger else None
                self.champion = self._updated(registry, CHAMPION, champion, self.champion)
                self.challenger = self._updated(registry, CHALLENGER, challenger, self.challenger)
                self.stage = (
                    Stage.from_tags(challenger, registry.version_tags(self.model_name, challenger))
                    if challenger is not None and self.challenger is not None
                    else None
                )
                self.registry_reachable, self.last_error = True, None
            except REGISTRY_ERRORS as exc:
                # keep serving what is loaded; /readyz and the metrics report the outage
                self.registry_reachable = False
                self.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
                log.warning("model registry unreachable, serving the last loaded models: %s", self.last_error)

    def _resolve(self, registry: ModelRegistry, alias: str) -> str | None:
        try:
            return str(registry.client.get_model_version_by_alias(self.model_name, alias).version)
        except MlflowException as exc:
            if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST) or "not found" in str(exc).lower():
                return None
            raise

    def _updated(
        self, registry: ModelRegistry, alias: str, version: str | None, current: LoadedModel | None
    ) -> LoadedModel | None:
        if version is None:
            if current is not None and alias == CHAMPION:
                # an alias that vanished is an operator's mistake more often than an order to stop serving
                log.warning("the %s alias of %s is gone; still serving v%s", alias, self.model_name, current.version)
                return current
            return None
        if current is not None and current.version == version and (current.cache_path / "model.onnx").exists():
            return current
        tags = registry.version_tags(self.model_name, version)
        failed = failed_checks(tags)
        if failed:
            # a version that failed a blocking check is never loaded, whoever pointed the alias at it
            if version not in self.refused:
                self.refused[version] = failed
                keeping = f"still serving v{current.version}" if current is not None and alias == CHAMPION else ""
                log.error(
                    "not loading %s v%s (%s alias): it failed %s. %s",
                    self.model_name,
                    version,
                    alias,
                    ", ".join(failed),
                    keeping,
                )
            return current if alias == CHAMPION else None
        wrapper = registry.load_pyfunc(self.model_name, version)
        assert wrapper.model is not None  # load_pyfunc checked it
        metrics = _metrics_from_tags(tags)
        path = self._write_cache(alias, version, wrapper.model, wrapper.profile, metrics, wrapper.explainer)
        loaded = LoadedModel(
            alias=alias,
            version=version,
            model=wrapper.model,
            validator=TripValidator(wrapper.profile),
            metrics=metrics,
            loaded_at=datetime.now(UTC),
            source=f"models:/{self.model_name}/{version}",
            cache_path=path,
            explainer=wrapper.explainer,
        )
        self.reloads += 1
        log.info("loaded %s v%s (%s)", self.model_name, version, alias)
        return loaded

    def _write_cache(
        self,
        alias: str,
        version: str,
        model: FareModel,
        profile: ReferenceProfile | None,
        metrics: dict[str, float],
        explainer: FareExplainer | None = None,
    ) -> Path:
        target = self.cache_dir / alias
        temp = self.cache_dir / f".{alias}.{uuid.uuid4().hex}"
        model.save(temp)
        if profile is not None:
            (temp / PROFILE_FILE).write_text(profile.to_json())
        if explainer is not None:
            (temp / EXPLAIN_FILE).write_text(explainer.to_json())
        (temp / VERSION_FILE).write_text(version)
        (temp / "metrics.json").write_text(json.dumps(metrics, sort_keys=True))
        old = self.cache_dir / f".{alias}.old.{uuid.uuid4().hex}"
        if target.exists():
            target.rename(old)
        temp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
        return target

    def _from_cache(self, alias: str) -> LoadedModel | None:
        folder = self.cache_dir / alias
        if not (folder / "model.onnx").exists():
            return None
        profile_path = folder / PROFILE_FILE
        profile = ReferenceProfile.from_json(profile_path.read_text()) if profile_path.exists() else None
        log.warning("registry unreachable: serving the cached %s from %s", alias, folder)
        version = (folder / VERSION_FILE).read_text().strip()
        explained = folder / EXPLAIN_FILE
        return LoadedModel(
            alias=alias,
            version=version,
            model=FareModel.load(folder),
            validator=TripValidator(profile),
            metrics={},
            loaded_at=datetime.now(UTC),
            # where it came from, in the registry's words: no path of this machine goes out in a response
            source=f"cache:models:/{self.model_name}/{version}",
            cache_path=folder,
            explainer=FareExplainer.from_json(explained.read_text()) if explained.exists() else None,
        )


def failed_checks(tags: dict[str, str]) -> list[str]:
    """The blocking checks a version's tags record as failed (``check.<name>: failed``, set at registration)."""
    return sorted(
        key.removeprefix("check.") for key, value in tags.items() if key.startswith("check.") and value == "failed"
    )


def _metrics_from_tags(tags: dict[str, str]) -> dict[str, float]:
    try:
        values = json.loads(tags.get("metrics", "{}"))
    except ValueError:
        return {}
    return {key: float(value) for key, value in values.items() if isinstance(value, int | float)}
