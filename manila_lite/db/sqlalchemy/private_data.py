"""Queries on drivers_private_data and backend_info, the share service's own key/value stores."""

import reprlib

import sqlalchemy as sa
from sqlalchemy.dialects import mysql as sa_mysql
from sqlalchemy.dialects import postgresql as sa_postgresql
from sqlalchemy.dialects import sqlite as sa_sqlite

from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import model_base
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import utils
from manila_lite import exception

Data = models.DriverPrivateData
Info = models.BackendInfo
_SHORT = reprlib.Repr()
_SHORT.maxstring = 80


def _check_text(what, text, column, allow_empty=False):
    """Raise InvalidDriverPrivateData unless ``text`` is a string that fits ``column``."""
    limit = column.type.length
    if (isinstance(text, str) and (text or allow_empty) and
            len(text) <= limit):
        return
    raise exception.InvalidDriverPrivateData(
        reason='%s %s is not a %sstring of at most %d characters'
               % (what, _SHORT.repr(text), '' if allow_empty else 'non-empty ',
                  limit))


def _check(entity_id, keys=(), values=()):
    """Check an entity id, keys and values against the table's columns before any SQL."""
    columns = Data.__table__.c
    _check_text('entity id', entity_id, columns.entity_uuid)
    for key in keys:
        _check_text('key', key, columns.key)
    for value in values:
        _check_text('value', value, columns.value, allow_empty=True)


def _keys(key):
    if key is None:
        return ()
    return list(key) if isinstance(key, (list, tuple, set)) else [key]


def _data_query(entity_id, key=None):
    stmt = sa.select(Data).where(Data.entity_uuid == entity_id,
                                 model_base.live(Data))
    if isinstance(key, (list, tuple, set)):
        return stmt.where(Data.key.in_(list(key)))
    if key is not None:
        return stmt.where(Data.key == key)
    return stmt


def driver_private_data_get(context, entity_id, key=None, default=None):
    """One value (``default`` if absent), or a dict for key None or a list."""
    _check(entity_id, _keys(key))
    with engine.reader(context) as session:
        rows = list(session.scalars(_data_query(entity_id, key)))
    if key is None or isinstance(key, (list, tuple, set)):
        return {row.key: row.value for row in rows}
    return rows[0].value if rows else default


def _build_upsert(dialect_name):
    """INSERT ... ON CONFLICT/DUPLICATE KEY UPDATE of one row (None if unsupported).

    Soft-deleted rows keep their primary key (entity_uuid, key), so they
    are revived. A live row already holding the value is left alone
    (PostgreSQL and SQLite). RETURNING (ignored) and an ON CONFLICT
    clause without bound parameters make SQLAlchemy send an executemany
    of it as one multi-row statement, as it does for plain INSERTs;
    otherwise an upsert goes key by key.
    """
    table = Data.__table__
    if dialect_name in ('postgresql', 'sqlite'):
        module = sa_postgresql if dialect_name == 'postgresql' else sa_sqlite
        stmt = module.insert(table)
        incoming = stmt.excluded
        zero = sa.literal_column('0')
        return stmt.on_conflict_do_update(
            index_elements=[table.c.entity_uuid, table.c.key],
            set_={'value': incoming.value, 'deleted': zero,
                  'deleted_at': sa.null(),
                  'updated_at': incoming.updated_at},
            where=sa.or_(table.c.value != incoming.value,
                         table.c.deleted != zero)).returning(table.c.key)
    if dialect_name == 'mysql':
        # No bound parameter after VALUES: PyMySQL's executemany repeats
        # the VALUES group per row and formats the rest without parameters.
        # MySQL assigns left to right: updated_at is decided (kept for a
        # live row already holding the value) before value changes.
        stmt = sa_mysql.insert(table)
        zero = sa.literal_column('0')
        unchanged = sa.and_(table.c.value == stmt.inserted.value,
                            table.c.deleted == zero)
        return stmt.on_duplicate_key_update([
            ('updated_at', sa.case((unchanged, table.c.updated_at),
                                   else_=stmt.inserted.updated_at)),
            ('value', stmt.inserted.value),
            ('deleted', zero), ('deleted_at', sa.null())])
    return None


def _upsert_stmt(dialect_name):
    return utils.prebuilt(('private_upsert', dialect_name),
                          lambda: _build_upsert(dialect_name))


_UNIQUE_KEYS = {}


def _has_unique_key(session):
    """Whether the database enforces unique (entity_uuid, key); cached per URL.

    An upstream-made PostgreSQL database has no key at all on this table:
    upstream's migration e8ea58723178 drops the ``host`` column, which
    takes the (host, entity_uuid, key) primary key with it, and recreates
    the key on MySQL only. ON CONFLICT needs one.
    """
    url = str(session.get_bind().engine.url)
    if url not in _UNIQUE_KEYS:
        inspector = sa.inspect(session.connection())
        table = Data.__tablename__
        keys = [inspector.get_pk_constraint(table)['constrained_columns']]
        keys += [u['column_names']
                 for u in inspector.get_unique_constraints(table)]
        keys += [i['column_names'] for i in inspector.get_indexes(table)
                 if i['unique']]
        _UNIQUE_KEYS[url] = any(set(k) == {'entity_uuid', 'key'}
                                for k in keys)
    return _UNIQUE_KEYS[url]


def _upsert(session, entity_id, new, now):
    """Upsert every key of ``new`` with one statement; False if unsupported."""
    stmt = _upsert_stmt(session.get_bind().dialect.name)
    if stmt is None or not _has_unique_key(session):
        return False
    session.execute(stmt, [
        {'entity_uuid': entity_id, 'key': key, 'value': value, 'deleted': 0,
         'created_at': now, 'updated_at': now}
        for key, value in new.items()])
    return True


def _orm_update(session, entity_id, new, now):
    rows = session.scalars(sa.select(Data).where(
        Data.entity_uuid == entity_id))
    for row in rows:
        if row.key in new:
            row.value = new.pop(row.key)
            row.deleted = 0
            row.deleted_at = None
    for key, value in new.items():
        session.add(Data(entity_uuid=entity_id, key=key, value=value))
    session.flush()


def driver_private_data_update(context, entity_id, details,
                               delete_existing=False):
    """Upsert ``details`` (values stored as str); optionally drop other keys."""
    new = {k: str(v) for k, v in details.items()}
    _check(entity_id, new, new.values())
    now = model_base.utcnow()
    with engine.writer(context) as session:
        if delete_existing:
            conditions = [Data.entity_uuid == entity_id, model_base.live(Data)]
            if new:
                conditions.append(Data.key.notin_(list(new)))
            session.execute(sa.update(Data).where(*conditions)
                            .values(deleted=1, deleted_at=now)
                            .execution_options(synchronize_session=False))
        if new and not _upsert(session, entity_id, new, now):
            _orm_update(session, entity_id, new, now)
    return details


def _delete_all_stmt():
    table = Data.__table__
    return (table.update()
            .where(table.c.entity_uuid == sa.bindparam('b_entity'),
                   table.c.deleted == 0)
            .values(deleted=1, deleted_at=sa.bindparam('b_now')))


def driver_private_data_delete(context, entity_id, key=None):
    """Soft-delete one key, a list of keys, or every key of the entity."""
    _check(entity_id, _keys(key))
    now = model_base.utcnow()
    with engine.writer(context) as session:
        if key is None:
            session.execute(utils.prebuilt('private_delete_all',
                                           _delete_all_stmt),
                            {'b_entity': entity_id, 'b_now': now})
            return
        conditions = [Data.entity_uuid == entity_id, model_base.live(Data)]
        if isinstance(key, (list, tuple, set)):
            conditions.append(Data.key.in_(list(key)))
        else:
            conditions.append(Data.key == key)
        session.execute(sa.update(Data).where(*conditions)
                        .values(deleted=1, deleted_at=now)
                        .execution_options(synchronize_session=False))


def backend_info_get(context, host):
    """The live backend_info row of ``host`` or None."""
    with engine.reader(context) as session:
        stmt = utils.model_query(context, Info).where(Info.host == host)
        return session.scalars(stmt).first()


def backend_info_update(context, host, value=None, delete_existing=False):
    """Store the driver's info hash for ``host``; soft-delete it if asked."""
    with engine.writer(context) as session:
        info = session.get(Info, host)
        if info is None:
            if not value:
                return None
            info = Info(host=host, info_hash=value)
            session.add(info)
        elif value:
            info.info_hash = value
            info.deleted = 0
            info.deleted_at = None
        elif delete_existing and info.deleted == 0:
            info.deleted = 1
            info.deleted_at = model_base.utcnow()
        session.flush()
        return info
