"""Reference profiles and drift statistics: no Dagster imports."""
