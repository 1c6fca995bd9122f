"""Alembic migrations of manila_lite's schema (alembic.ini, env.py, versions/)."""
