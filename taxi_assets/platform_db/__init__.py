"""The platform database: its tables, their migrations, and the prediction log.

``schema`` and ``migrations`` create and change the tables, ``prediction_log`` reads and writes what the API
served. Decisions, alerts and incidents declare their tables beside the code that writes them.
"""
