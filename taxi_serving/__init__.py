"""The prediction API: Litestar on uvicorn, serving the champion fare model and logging every request.

Its own process, installed from the ``api`` extra: it imports no Dagster and no Spark (``pyproject.toml``'s
import contract checks it). Settings come from ``settings.py``; ``python -m taxi_serving`` starts it.
"""
