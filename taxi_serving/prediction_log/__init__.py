"""The prediction log writer: journal first, database next, and nothing lost in between.

``journal`` is each worker's folder of append-only segments, written before the handler answers; ``store`` is the
database side (batched inserts, the quarantine, feedback joined to its prediction); ``deferred`` keeps feedback
whose prediction has not reached the database yet; ``sink`` runs the background thread that ships one to the other.
The API builds a ``PredictionLogSink`` and calls ``submit`` on the request path; nothing else here is its concern.
"""
