"""Database layer; import manila_lite.db.api, never the sqlalchemy package."""
