"""Query helpers shared by the per-resource modules: read_deleted, filters, soft delete, ids."""

from oslo_log import log
from oslo_utils import uuidutils
import sqlalchemy as sa

from manila_lite.db.sqlalchemy import model_base

LOG = log.getLogger(__name__)


def read_deleted_of(context, read_deleted=None):
    """The explicit mode if given, else the context's (default 'no')."""
    return read_deleted or getattr(context, 'read_deleted', None) or 'no'


def model_query(context, model, read_deleted=None, project_only=False):
    """``SELECT model`` honouring read_deleted and, for users, the project."""
    stmt = sa.select(model).where(model_base.deleted_filter(
        model, read_deleted_of(context, read_deleted)))
    if project_only and not getattr(context, 'is_admin', True):
        stmt = stmt.where(model.project_id == context.project_id)
    return stmt


def as_list(value):
    """``None`` stays None; a scalar becomes a one-element list."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


def exact_filter(stmt, model, filters, legal_keys):
    """Equality (or IN for sequences) on each legal key present in filters."""
    for key in legal_keys:
        if key not in filters:
            continue
        value = filters[key]
        column = getattr(model, key)
        if isinstance(value, (list, tuple, set, frozenset)):
            stmt = stmt.where(column.in_(list(value)))
        else:
            stmt = stmt.where(column == value)
    return stmt


def host_filter(column, host):
    """``host = 'H@B' OR host LIKE 'H@B#%'`` (a host with a pool matches exactly)."""
    if '#' in host:
        return column == host
    return sa.or_(column == host, column.like('%s#%%' % host))


def soft_delete_where(session, model, *conditions, **extra_values):
    """Bulk soft delete of live rows matching ``conditions``.

    Like upstream's query-based soft delete: ``deleted`` takes the row id,
    ``deleted_at`` now, and ``updated_at`` is left alone. ``extra_values``
    (e.g. ``state='deleted'``) are written too. Returns the row count.
    """
    marker = model.id
    if model.live_deleted_value == model_base.STRING_LIVE:
        marker = sa.cast(model.id, sa.String(36))
    values = {'deleted': marker, 'deleted_at': model_base.utcnow(),
              'updated_at': model.updated_at}
    values.update(extra_values)
    stmt = (sa.update(model)
            .where(model_base.live(model), *conditions)
            .values(**values)
            .execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount


_PREBUILT = {}


def prebuilt(key, build):
    """The statement ``build()`` returns, built once per ``key``.

    Hot paths run statements written with ``sa.bindparam`` placeholders:
    reusing one statement object skips building it and computing its SQL
    cache key on every call (SQLAlchemy then finds the compiled form in
    its cache), which costs more CPU than the database round trip.
    ``key`` must name everything the statement's shape depends on.
    """
    stmt = _PREBUILT.get(key)
    if stmt is None:
        stmt = _PREBUILT.setdefault(key, build())
    return stmt


def lock_row(session, model, row_id):
    """``SELECT ... FOR UPDATE`` of one row, serialising writers of its children.

    A no-op on SQLite, where writer transactions already hold the
    database write lock (BEGIN IMMEDIATE).
    """
    stmt = prebuilt(('lock_row', model), lambda: (
        sa.select(model.__table__.c.id)
        .where(model.__table__.c.id == sa.bindparam('row_id'))
        .with_for_update()))
    session.execute(stmt, {'row_id': row_id})


def ensure_id(values):
    """Give ``values`` a uuid4 ``id`` unless it carries a truthy one."""
    if not values.get('id'):
        values['id'] = uuidutils.generate_uuid()
    return values


def metadata_value(key, value):
    """Metadata values as strings; booleans as 'True'/'False' on every database."""
    if value is None:
        LOG.warning('Metadata key %s has no value; it is not stored.', key)
        return None
    if isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else str(value)


def upsert_metadata(session, model, owner_column, owner_id, metadata,
                    delete=False):
    """Write ``metadata`` over the owner's live ``model`` rows; with ``delete`` soft-delete the keys not in it.

    ``owner_column`` names the column that ties a row to its owner
    (``share_id``, ``share_snapshot_id``...). A None value is not stored.
    """
    rows = {}
    live_rows = session.scalars(sa.select(model).where(
        getattr(model, owner_column) == owner_id,
        model_base.live(model)).order_by(model.id))
    for row in live_rows:
        if delete and row.key not in metadata:
            row.soft_delete(session)
        else:
            rows[row.key] = row
    for key, value in metadata.items():
        value = metadata_value(key, value)
        if value is None:
            continue
        if key in rows:
            rows[key].value = value
        else:
            session.add(model(**{owner_column: owner_id, 'key': key,
                                 'value': value}))
    session.flush()


def split_values(values, keys):
    """Move the truthy values of ``keys`` out of a copy of ``values``.

    Returns ``(moved, rest)``. Falsy values of those keys are dropped from
    both (upstream's share/instance split rule).
    """
    rest = dict(values)
    moved = {}
    for key in keys:
        value = rest.pop(key, None)
        if value:
            moved[key] = value
    return moved, rest


def apply_values(obj, values):
    """Set ``values`` on a model like upstream's ``update``, minus its traps.

    Column attributes are set (and persisted on flush). Read-only
    properties and relationships are skipped; any other key becomes a
    plain Python attribute that is never persisted (upstream behaviour).
    """
    mapper = sa.inspect(type(obj))
    for key, value in values.items():
        if key in mapper.column_attrs:
            setattr(obj, key, value)
            continue
        attr = getattr(type(obj), key, None)
        if (key in mapper.relationships or isinstance(attr, property) or
                key == 'metadata' or key.startswith('_')):
            LOG.debug('Ignoring non-column key %s for %s.', key,
                      type(obj).__name__)
            continue
        setattr(obj, key, value)


def update_moved_ids(session, table, found, update):
    """Run ``update`` on the rows ``found`` selects; return their ids.

    One UPDATE ... RETURNING where the dialect has it (PostgreSQL, SQLite,
    MariaDB); otherwise the rows are locked by a SELECT ... FOR UPDATE and
    then updated.
    """
    if session.get_bind().dialect.update_returning:
        return [row[0] for row in session.execute(
            update.where(found).returning(table.c.id))]
    moved = [row[0] for row in session.execute(
        sa.select(table.c.id).where(found).with_for_update())]
    if moved:
        session.execute(update.where(table.c.id.in_(moved)))
    return moved
