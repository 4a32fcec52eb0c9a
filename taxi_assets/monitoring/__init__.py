"""Monitoring without Dagster: what drift is measured against, how, and who is told.

Reference profiles, the drift statistics (PSI, KS, Jensen-Shannon, chi-square), calibrated accuracy, a window's
report and the check rules that judge it, incidents and alerts.
"""
