"""The platform database: every table, their migrations, and the prediction log.

``schema`` holds the one ``METADATA`` and brings a database to the newest revision of ``migrations``;
``prediction_log`` declares the log's tables and reads and writes what the API served; ``records`` declares the
decisions, incidents and alert history. Every table is declared in this package, nowhere else.
"""
