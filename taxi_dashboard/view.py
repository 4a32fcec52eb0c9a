"""What every screen shares: the settings, the chosen service, the sign-in, and cached loads of the data.

Loads are cached for ``cache_seconds`` of the settings (``TAXI_DASHBOARD_CACHE_SECONDS``, 30; read at the first
load, not at import) so that moving between screens does not re-read the lake and the database; the "Reload"
button in the sidebar clears them.
"""

from __future__ import annotations

import functools
import hmac
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, ParamSpec, TypeVar

import pandas as pd
import streamlit as st

from taxi_assets.model.versions import CHALLENGER, CHAMPION, ModelRegistry, model_name
from taxi_assets.registry.rollout import Stage
from taxi_dashboard import reports as lake_reports
from taxi_dashboard import retraining, tables, why
from taxi_dashboard.settings import DashboardSettings, settings_from_env

P = ParamSpec("P")
R = TypeVar("R")
SERVICE_KEY: Final = "service"
SIGNED_IN_KEY: Final = "signed_in_as"


def settings() -> DashboardSettings:
    """The settings of this process (read from the environment at each run, which costs microseconds)."""
    return settings_from_env(os.environ)


def cached(load: Callable[P, R]) -> Callable[P, R]:
    """``load`` cached by Streamlit for the settings' ``cache_seconds``, read when it is first called."""
    made: list[Callable[P, R]] = []

    @functools.wraps(load)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        if not made:
            made.append(st.cache_data(ttl=settings().cache_seconds, show_spinner=False)(load))
        return made[0](*args, **kwargs)

    return call


def service() -> str:
    """The service every page shows, chosen in the sidebar."""
    return str(st.session_state.get(SERVICE_KEY) or settings().services[0])


def signed_in() -> bool:
    """Whether this session entered a valid key (always False when no key is configured)."""
    return bool(st.session_state.get(SIGNED_IN_KEY))


def sidebar(config: DashboardSettings) -> None:
    """The service selector, the sign-in and a reload button."""
    st.sidebar.selectbox("Service", config.services, key=SERVICE_KEY, help="The TLC service whose model is shown.")
    if not config.keys:
        st.sidebar.caption("Read-only: no dashboard key is configured (TAXI_DASHBOARD_KEYS), so nobody can act.")
    elif signed_in():
        st.sidebar.caption(f"Signed in as {st.session_state[SIGNED_IN_KEY]}: you may ask for a retraining.")
    else:
        key = st.sidebar.text_input("Dashboard key", type="password", help="One of TAXI_DASHBOARD_KEYS.")
        holder = key_holder(config, key)
        if key and holder:
            st.session_state[SIGNED_IN_KEY] = holder
            st.rerun()
        elif key:
            st.sidebar.error("That key is not valid.")
    if st.sidebar.button("Reload", help=f"Data is kept for {config.cache_seconds} s; this reads it again now."):
        st.cache_data.clear()


def key_holder(config: DashboardSettings, key: str) -> str | None:
    """The name of who holds ``key`` (compared in constant time), None for an unknown key."""
    given = key.encode()
    return next((name for known, name in config.keys.items() if hmac.compare_digest(given, known.encode())), None)


def gate(config: DashboardSettings) -> bool:
    """Whether the pages may be shown: always without configured keys, after sign-in with them."""
    if config.keys and not signed_in():
        st.info("Enter a dashboard key in the sidebar to see the model's monitoring.")
        return False
    return True


def page() -> tuple[DashboardSettings, str]:
    """What every screen calls first: the sidebar, then the sign-in gate (stops the script when it is shut).

    Each screen guards itself, so none is shown without a key however it is reached.
    """
    config = settings()
    sidebar(config)
    if not gate(config):
        st.stop()
    return config, service()


@cached
def reports(lake_root: str, name: str, newest: int | None = None) -> lake_reports.Reports:
    """The drift reports of one service (only the ``newest`` windows' when given)."""
    return lake_reports.load_reports(lake_root, name, newest)


@cached
def incidents(url: str, name: str) -> pd.DataFrame:
    """Every incident of one service."""
    return tables.incidents(url, name)


@cached
def alerts(url: str, name: str) -> pd.DataFrame:
    """The newest alerts of one service."""
    return tables.alerts(url, name)


@cached
def decisions(url: str, name: str) -> pd.DataFrame:
    """Every decision of one service."""
    return tables.decisions(url, name)


@cached
def champion(tracking_uri: str, name: str) -> str | None:
    """The version MLflow's ``champion`` alias points at (None before MLflow holds anything: no file is created)."""
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri.removeprefix("sqlite:///")).exists():
        return None
    return ModelRegistry(tracking_uri).alias(model_name(name), CHAMPION)


@cached
def challenger_stage(tracking_uri: str, name: str) -> Stage | None:
    """The live stage of the version the ``challenger`` alias points at (shadow, A/B, the guardrail), or None."""
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri.removeprefix("sqlite:///")).exists():
        return None
    registry = ModelRegistry(tracking_uri)
    version = registry.alias(model_name(name), CHALLENGER)
    return Stage.from_tags(version, registry.version_tags(model_name(name), version)) if version else None


@cached
def card(tracking_uri: str, name: str, version: str) -> str | None:
    """The model card of one version of ``name``'s model (None for a version registered without one)."""
    return ModelRegistry(tracking_uri).card(model_name(name), version)


def explained(database_url: str, tracking_uri: str, name: str, request_id: str) -> why.ExplainedFare | str:
    """A logged prediction explained by its version (not cached: each request id is asked once)."""
    return why.explain_logged(database_url, tracking_uri, name, request_id)


@cached
def health(url: str, name: str, hours: float, bucket_minutes: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Service health per bucket, and rejections by reason, over the last ``hours``."""
    since = datetime.now(UTC) - timedelta(hours=hours)
    return tables.service_health(url, name, since, bucket_minutes), tables.rejections(url, name, since)


@cached
def retraining_runs(dagster_url: str, name: str) -> pd.DataFrame:
    """The retraining runs Dagster knows of (an unanswered query is not cached: the next view asks again)."""
    return retraining.retraining_runs(dagster_url, name)


def judged_windows(config: DashboardSettings, service: str, title: str) -> tuple[lake_reports.Reports, pd.DataFrame]:
    """The screen's title, then the service's reports and each window's champion row; stops before the first."""
    loaded = reports(config.lake_root, service)
    st.title(title)
    rows = loaded.champion_rows()
    if rows.empty:
        st.info("No window has been judged yet.")
        st.stop()
    return loaded, rows


def run_link(config: DashboardSettings, run_id: object) -> str | None:
    """The Dagster UI address of a run, for a link column (None without a run)."""
    return config.dagster_run_url(str(run_id)) if isinstance(run_id, str) and run_id else None
