"""SQLAlchemy implementation of the DB facade: engine, models, queries."""
