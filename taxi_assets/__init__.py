"""Dagster code location for the NYC taxi fare platform.

Importing it turns off onnxruntime's usage telemetry for this process (``ORT_DISABLE_TELEMETRY``, read once when
onnxruntime first starts; an explicit value in the environment wins). Since 1.29 onnxruntime's Linux builds send
events to Microsoft by default: the API's workers were seen resolving ``mobile.events.data.microsoft.com`` every few
seconds while serving, and ``onnxruntime.disable_telemetry_events()`` did not stop it. A fare service reports to its
operator and to nobody else, and it must run offline.
"""

import os

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
