"""Monitoring without Dagster: how drift and accuracy are measured on a window, and how a window is judged.

The drift statistics (PSI, KS, Jensen-Shannon, chi-square), calibrated accuracy, a window's report and the check
rules that judge it, and incidents. The reference it measures against is the model version's (``taxi_assets.model``);
alerts are sent by ``taxi_assets.alerting``.
"""
