"""Alembic migrations of the platform database: every table of ``schema.METADATA``, a revision per change."""
