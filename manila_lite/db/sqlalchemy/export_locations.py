"""Queries on share instance export locations and their metadata (upstream's update semantics)."""

import datetime

from oslo_log import log
from oslo_utils import uuidutils
import sqlalchemy as sa
from sqlalchemy import orm

from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import instances
from manila_lite.db.sqlalchemy import model_base
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import utils
from manila_lite import exception

LOG = log.getLogger(__name__)

EL = models.ShareInstanceExportLocations
ELM = models.ShareInstanceExportLocationsMetadata


def _normalize(export_locations):
    """Driver output (string, list of strings or dicts) as ordered dicts, one per path."""
    if not isinstance(export_locations, (list, tuple, set)):
        export_locations = [export_locations]
    result, seen = [], set()
    for item in export_locations:
        if isinstance(item, str):
            item = {'path': item}
        elif not isinstance(item, dict) or not item.get('path'):
            raise exception.ManilaException(
                'Wrong export location %r: expected a path string or a dict '
                'with a "path" key.' % (item,))
        if item['path'] in seen:
            LOG.warning('Duplicate export location %s ignored.', item['path'])
            continue
        seen.add(item['path'])
        result.append({'path': item['path'],
                       'is_admin_only': bool(item.get('is_admin_only', False)),
                       'metadata': item.get('metadata') or {}})
    return result


def _live_rows(session, instance_ids, include_admin_only=True):
    stmt = (sa.select(EL)
            .where(EL.share_instance_id.in_(list(instance_ids)),
                   model_base.live(EL))
            .order_by(EL.updated_at, EL.id)
            .options(orm.selectinload(EL._el_metadata_bare)))
    if not include_admin_only:
        stmt = stmt.where(sa.or_(EL.is_admin_only.is_(None),
                                 EL.is_admin_only == sa.false()))
    return list(session.scalars(stmt))


def _current_stmt():
    el, elm = EL.__table__, ELM.__table__
    return (sa.select(el.c.id, el.c.path, el.c.updated_at, elm.c.id,
                      elm.c.key, elm.c.value)
            .select_from(el.outerjoin(elm, sa.and_(
                elm.c.export_location_id == el.c.id, elm.c.deleted == 0)))
            .where(el.c.share_instance_id == sa.bindparam('b_si'),
                   el.c.deleted == 0))


def _current_locked(session, instance_id, locked=False):
    """Lock the instance row, then read its live locations with their metadata.

    The lock serialises updates of one instance (two concurrent ones would
    otherwise both keep their own new paths; SQLite writers already hold
    the database lock). The read is a statement of its own: on PostgreSQL
    a statement that waited for the lock still sees the rows of its
    snapshot. ``locked``: the caller's UPDATE of the row already holds
    the lock. Returns ``{path: {'id', 'updated_at', 'metadata': {key:
    (meta id, value)}}}``.
    """
    if not locked:
        utils.lock_row(session, models.ShareInstance, instance_id)
    current = {}
    for el_id, path, updated_at, meta_id, key, value in session.execute(
            utils.prebuilt('el_current', _current_stmt),
            {'b_si': instance_id}):
        row = current.setdefault(path, {'id': el_id,
                                        'updated_at': updated_at,
                                        'metadata': {}})
        if meta_id is not None:
            row['metadata'][key] = (meta_id, value)
    return current


def _insert_locations(session, rows):
    """INSERT the new locations (one executemany); return {uuid: id}."""
    table = EL.__table__
    dialect = session.get_bind().dialect
    if dialect.insert_executemany_returning:
        # Rows come back in any order: the uuid tells which is which.
        result = session.execute(utils.prebuilt('el_insert_returning', lambda: (
            table.insert().returning(table.c.id, table.c.uuid))), rows)
        return {uuid: el_id for el_id, uuid in result}
    session.execute(utils.prebuilt('el_insert', table.insert), rows)
    found = session.execute(sa.select(table.c.uuid, table.c.id).where(
        table.c.uuid.in_([r['uuid'] for r in rows])))
    return dict(found.all())


def _metadata_writes(el_id, current, metadata, now, inserts, updates):
    """Queue metadata upserts; existing keys not given are kept (as upstream)."""
    for key, value in metadata.items():
        value = utils.metadata_value(key, value)
        if value is None:
            continue
        if key not in current:
            inserts.append({'export_location_id': el_id, 'key': key,
                            'value': value, 'deleted': 0, 'created_at': now,
                            'updated_at': now})
        elif current[key][1] != value:
            updates.append({'b_id': current[key][0], 'b_value': value,
                            'b_now': now})


def _restamp_stmt():
    table = EL.__table__
    return (table.update().where(table.c.id == sa.bindparam('b_id'))
            .values(updated_at=sa.bindparam('b_stamp')))


def _metadata_update_stmt():
    table = ELM.__table__
    return (table.update().where(table.c.id == sa.bindparam('b_id'))
            .values(value=sa.bindparam('b_value'),
                    updated_at=sa.bindparam('b_now')))


def _delete_locations(session, el_ids, now):
    utils.soft_delete_where(session, ELM, ELM.export_location_id.in_(el_ids))
    utils.soft_delete_where(session, EL, EL.id.in_(el_ids), updated_at=now)


def _write(session, instance_id, wanted, current, stamps, delete, now):
    """Issue the few statements turning ``current`` into ``wanted``."""
    by_path = {el['path']: el for el in wanted}
    gone = [row['id'] for path, row in current.items()
            if path not in by_path]
    if delete and gone:
        _delete_locations(session, gone, now)
    kept = [{'b_id': current[path]['id'], 'b_stamp': stamps[path]}
            for path in by_path if path in current]
    if kept:
        session.execute(utils.prebuilt('el_restamp', _restamp_stmt), kept)
    new = [{'uuid': uuidutils.generate_uuid(), 'path': el['path'],
            'share_instance_id': instance_id,
            'is_admin_only': el['is_admin_only'], 'deleted': 0,
            'created_at': now, 'updated_at': stamps[el['path']]}
           for el in wanted if el['path'] not in current]
    ids = _insert_locations(session, new) if new else {}
    inserts, updates = [], []
    for row in new:
        _metadata_writes(ids[row['uuid']], {},
                         by_path[row['path']]['metadata'], now, inserts,
                         updates)
    for path in by_path:
        if path in current:
            _metadata_writes(current[path]['id'], current[path]['metadata'],
                             by_path[path]['metadata'], now, inserts,
                             updates)
    if inserts:
        session.execute(utils.prebuilt('elm_insert', ELM.__table__.insert),
                        inserts)
    if updates:
        session.execute(utils.prebuilt('elm_update', _metadata_update_stmt),
                        updates)
    return gone if delete else []


def _stamps(wanted):
    """``(now, {path: updated_at})``.

    updated_at = now + index microseconds: ordering by updated_at gives
    the driver's order back (what the API shows).
    """
    base = model_base.utcnow()
    return base, {el['path']: base + datetime.timedelta(microseconds=i)
                  for i, el in enumerate(wanted)}


def conditional_update_with_locations(context, share_instance_id,
                                      expected_statuses, values,
                                      export_locations):
    """share_instance_conditional_update and export_locations_update in one transaction.

    The conditional UPDATE runs first: when it moves the row it has
    locked it too, so the locations need no lock statement of their own.
    Returns whether the row moved.
    """
    wanted = _normalize(export_locations)
    base, stamps = _stamps(wanted)
    with engine.writer(context) as session:
        moved = instances.conditional_update(
            session, context, share_instance_id, expected_statuses, values)
        current = _current_locked(session, share_instance_id, locked=moved)
        _write(session, share_instance_id, wanted, current, stamps, True,
               base)
    return moved


def update_in_session(session, share_instance_id, export_locations):
    """export_locations_update inside the caller's transaction."""
    wanted = _normalize(export_locations)
    base, stamps = _stamps(wanted)
    current = _current_locked(session, share_instance_id, locked=False)
    _write(session, share_instance_id, wanted, current, stamps, True, base)


def export_locations_update(context, share_instance_id, export_locations,
                            delete=True):
    """Make the instance's locations match the driver's list; return the paths in order."""
    wanted = _normalize(export_locations)
    base, stamps = _stamps(wanted)
    with engine.writer(context) as session:
        current = _current_locked(session, share_instance_id)
        deleted = _write(session, share_instance_id, wanted, current, stamps,
                         delete, base)
    # The live rows now, in the order a read by (updated_at, id) gives.
    last = float('inf')  # new rows get the highest ids
    order = [(stamps[path], current.get(path, {}).get('id', last), path)
             for path in stamps]
    order += [(row['updated_at'] or datetime.datetime.min, row['id'], path)
              for path, row in current.items()
              if path not in stamps and row['id'] not in deleted]
    return [item[2] for item in sorted(order)]


def export_location_get_all_by_share_instance_id(context, share_instance_id,
                                                 include_admin_only=True):
    with engine.reader(context) as session:
        instances.require(session, context, share_instance_id)
        return _live_rows(session, [share_instance_id], include_admin_only)


def export_location_get_all(context, share_id):
    """Paths of the share's main instance; admin-only ones for admins only."""
    with engine.reader(context) as session:
        stmt = (utils.model_query(context, models.Share)
                .where(models.Share.id == share_id)
                .options(orm.selectinload(models.Share.instances)))
        share = session.scalars(stmt).first()
        if share is None:
            raise exception.ShareNotFound(share_id=share_id)
        if share.instance is None:
            return []
        rows = _live_rows(session, [share.instance.id],
                          include_admin_only=bool(context.is_admin))
        return [row.path for row in rows]


def export_location_get_by_uuid(context, export_location_uuid):
    with engine.reader(context) as session:
        stmt = (sa.select(EL).where(EL.uuid == export_location_uuid,
                                    model_base.live(EL))
                .options(orm.selectinload(EL._el_metadata_bare)))
        result = session.scalars(stmt).first()
    if result is None:
        raise exception.ExportLocationNotFound(uuid=export_location_uuid)
    return result
