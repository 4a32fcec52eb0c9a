"""The monitoring dashboard: what the model is doing, for whom it got worse, what the platform did about it.

A Streamlit app (``make dashboard``), its own process. It only reads what the platform wrote: the drift reports in
the lake, the platform database (prediction log, incidents, alerts, promotion decisions) and the MLflow registry's
champion alias. It imports no Dagster and no Spark (an import contract guards it).

``settings`` reads the environment; ``reports`` (the lake) and ``tables`` (the database) load the data as frames;
``wording`` turns numbers into sentences and ``charts`` draws them; ``view`` is what every screen shares;
``app.py`` and ``screens/`` are the Streamlit scripts.
"""
