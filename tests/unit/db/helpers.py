"""Helpers for the DB tests: raw SQL reads and direct inserts that bypass the facade."""

from oslo_utils import uuidutils
import sqlalchemy as sa

from manila_lite.db import api as db
from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import models


def add_instance(context, share_id, **values):
    """Insert one more instance (a replica) of ``share_id`` directly."""
    values.setdefault('id', uuidutils.generate_uuid())
    with engine.writer(context) as session:
        session.add(models.ShareInstance(share_id=share_id, **values))
    return values['id']


def add_row(context, model, **values):
    """Insert one row of ``model`` through the ORM (defaults applied)."""
    with engine.writer(context) as session:
        row = model(**values)
        session.add(row)
        session.flush()
        return row


def raw_rows(sql, **params):
    """Rows of a raw SQL query as dicts (bypassing the ORM)."""
    with db.get_engine().connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]


def raw_execute(sql, **params):
    with db.get_engine().begin() as conn:
        conn.execute(sa.text(sql), params)


class StatementCounter:
    """Counts statements sent to the database while active."""

    def __init__(self, engine_):
        self.engine = engine_
        self.statements = []

    def _record(self, conn, cursor, statement, *args):
        self.statements.append(statement)

    def __enter__(self):
        sa.event.listen(self.engine, 'before_cursor_execute', self._record)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, 'before_cursor_execute', self._record)

    @property
    def count(self):
        return len(self.statements)
