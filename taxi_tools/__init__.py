"""Tools that drive the platform from outside the Dagster code location.

The CLI behind the Makefile, the demo story, the in-process runner, and the replay client that sends TLC months
through the API.
"""
