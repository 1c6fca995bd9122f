"""Alembic wrappers for ``manila-lite-manage db sync|version`` that refuse schemas manila_lite does not own."""

import os

from alembic import command as alembic_command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from alembic import script as alembic_script
import sqlalchemy as sa

from manila_lite.db.sqlalchemy import engine
from manila_lite import exception

_INI = os.path.join(os.path.dirname(__file__), 'migrations', 'alembic.ini')
UPSTREAM_OWNER = 'upstream manila'
UNKNOWN_OWNER = 'another tool (tables exist but no alembic_version row)'


def _config(connection=None):
    config = alembic_config.Config(_INI)
    config.set_main_option('script_location',
                           os.path.dirname(_INI).replace('%', '%%'))
    if connection is not None:
        config.attributes['connection'] = connection
    return config


def our_revisions():
    """Every revision id of manila_lite's own migration history."""
    scripts = alembic_script.ScriptDirectory.from_config(_config())
    return {rev.revision for rev in scripts.walk_revisions()}


def head_revision():
    scripts = alembic_script.ScriptDirectory.from_config(_config())
    return scripts.get_current_head()


def _current_revisions(connection):
    context = alembic_migration.MigrationContext.configure(connection)
    return context.get_current_heads()


def _check_owned(connection):
    """Raise DBSchemaNotOwned unless the database is empty or ours."""
    revisions = _current_revisions(connection)
    foreign = [rev for rev in revisions if rev not in our_revisions()]
    if foreign:
        raise exception.DBSchemaNotOwned(owner=UPSTREAM_OWNER,
                                         revision=', '.join(foreign))
    if not revisions:
        tables = [t for t in sa.inspect(connection).get_table_names()
                  if t != 'alembic_version']
        if tables:
            raise exception.DBSchemaNotOwned(owner=UNKNOWN_OWNER,
                                             revision='none')


def db_sync(version=None):
    """Upgrade the database to ``version`` (default: head) with our revisions.

    Refuses, before changing anything, a database whose alembic_version
    holds a revision that is not ours (for example upstream's after
    ``manila-manage db sync``) and a non-empty database without one.
    """
    with engine.get_engine().begin() as connection:
        _check_owned(connection)
    with engine.get_engine().begin() as connection:
        alembic_command.upgrade(_config(connection), version or 'head')


def db_version():
    """The revision recorded in alembic_version (ours or not), or None."""
    with engine.get_engine().connect() as connection:
        revisions = _current_revisions(connection)
    if not revisions:
        return None
    return ', '.join(sorted(revisions))


def schema_owner():
    """'manila_lite', 'upstream manila', or None for an empty database."""
    with engine.get_engine().connect() as connection:
        revisions = _current_revisions(connection)
        if not revisions:
            tables = sa.inspect(connection).get_table_names()
            return UNKNOWN_OWNER if tables else None
    if all(rev in our_revisions() for rev in revisions):
        return 'manila_lite'
    return UPSTREAM_OWNER
