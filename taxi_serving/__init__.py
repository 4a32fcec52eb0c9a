"""REST API that serves the current champion taxi fare model (built in a later step)."""
