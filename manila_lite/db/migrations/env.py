"""Alembic environment: runs manila_lite's revisions on the facade's engine (or a given connection)."""

from alembic import context

from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import models


def _run(connection):
    context.configure(
        connection=connection,
        target_metadata=models.Base.metadata,
        render_as_batch=connection.dialect.name == 'sqlite',
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connection = context.config.attributes.get('connection')
    if connection is not None:
        _run(connection)
        return
    with engine.get_engine().connect() as connection:
        _run(connection)


if context.is_offline_mode():
    raise SystemExit('manila_lite migrations run online only.')
run_migrations_online()
