"""Alembic migrations of Lepton's own tables (run by :mod:`lepton_core.workspace._database`)."""
