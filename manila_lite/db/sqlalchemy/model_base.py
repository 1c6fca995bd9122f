"""Declarative base, column types and soft-delete mixins shared by every manila_lite model."""

from oslo_db.sqlalchemy import models as oslo_models
from oslo_utils import timeutils
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy import orm

# created_at/updated_at/deleted_at are datetime(6) in upstream's MySQL DDL;
# PostgreSQL and SQLite keep microseconds with the plain type.
Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql')

STRING_LIVE = 'False'
INTEGER_LIVE = 0


def utcnow():
    """Naive UTC now, the value upstream stores in every timestamp."""
    return timeutils.utcnow()


class Base(orm.DeclarativeBase):
    """Declarative root; ``Base.metadata`` holds every manila_lite table."""


class _Common(oslo_models.ModelBase):
    """Dict-like access (``obj['x']``, ``obj.get('x')``) and soft delete."""

    # Value of ``deleted`` on a live row; set by the soft-delete mixins.
    live_deleted_value = None
    # Column set to 'deleted' by ``soft_delete(update_status=True)``.
    status_field = 'status'

    def soft_delete(self, session, update_status=False):
        """Mark the row deleted (deleted = own id, deleted_at = now) and flush."""
        if update_status:
            setattr(self, self.status_field, 'deleted')
        self.deleted = self._deleted_marker()
        self.deleted_at = utcnow()
        self.save(session)

    def _deleted_marker(self):
        return self.id

    def to_dict(self):
        """Columns and extra keys as a plain dict (nested models left out)."""
        return {k: v for k, v in self.items() if not isinstance(v, _Common)}

    def __repr__(self):
        ident = sa.inspect(self).identity
        return '<%s %s>' % (type(self).__name__,
                            ident[0] if ident and len(ident) == 1 else ident)


class TimestampColumns:
    """created_at (set on insert) and updated_at (set on every ORM update)."""

    created_at = sa.Column(Timestamp, default=utcnow)
    updated_at = sa.Column(Timestamp, onupdate=utcnow)
    deleted_at = sa.Column(Timestamp)


class StringSoftDelete(_Common, TimestampColumns):
    """Tables whose ``deleted`` is varchar(36): 'False' live, the id once deleted."""

    live_deleted_value = STRING_LIVE
    deleted = sa.Column(sa.String(36), default=STRING_LIVE)

    def _deleted_marker(self):
        return str(self.id)


class IntegerSoftDelete(_Common, TimestampColumns):
    """Tables whose ``deleted`` is an integer: 0 live, the integer id once deleted."""

    live_deleted_value = INTEGER_LIVE
    deleted = sa.Column(sa.Integer, default=INTEGER_LIVE)


def live(model):
    """SQL condition selecting the live rows of ``model``."""
    return model.deleted == model.live_deleted_value


def deleted_filter(model, read_deleted):
    """SQL condition for a ``read_deleted`` mode ('no', 'yes' or 'only')."""
    if read_deleted in ('no', 'n', False, None):
        return model.deleted == model.live_deleted_value
    if read_deleted == 'only':
        return model.deleted != model.live_deleted_value
    if read_deleted in ('yes', 'y', True):
        return sa.true()
    raise ValueError('read_deleted must be no, yes or only, not %r'
                     % (read_deleted,))
