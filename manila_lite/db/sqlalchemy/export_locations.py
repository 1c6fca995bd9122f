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


def _update_metadata(session, location, metadata, now):
    """Upsert metadata keys (existing keys not given are kept, as upstream)."""
    current = {m.key: m for m in location._el_metadata_bare}
    for key, value in metadata.items():
        value = utils.metadata_value(key, value)
        if value is None:
            continue
        if key in current:
            current[key].value = value
            current[key].updated_at = now
        else:
            session.add(ELM(export_location_id=location.id, key=key,
                            value=value, updated_at=now))


def _delete_location(session, location):
    utils.soft_delete_where(session, ELM, ELM.export_location_id ==
                            location.id)
    location.soft_delete(session)


def export_locations_update(context, share_instance_id, export_locations,
                            delete=True):
    """Make the instance's locations match the driver's list; return the paths in order."""
    wanted = _normalize(export_locations)
    base = model_base.utcnow()
    # updated_at = now + index microseconds: ordering by updated_at gives
    # the driver's order back (what the API shows).
    stamps = {el['path']: base + datetime.timedelta(microseconds=i)
              for i, el in enumerate(wanted)}
    by_path = {el['path']: el for el in wanted}
    with engine.writer(context) as session:
        current = _live_rows(session, [share_instance_id])
        existing = set()
        for location in current:
            if location.path not in by_path:
                if delete:
                    _delete_location(session, location)
                continue
            existing.add(location.path)
            location.updated_at = stamps[location.path]
            _update_metadata(session, location,
                             by_path[location.path]['metadata'], base)
        for el in wanted:
            if el['path'] in existing:
                continue
            location = EL(uuid=uuidutils.generate_uuid(), path=el['path'],
                          share_instance_id=share_instance_id,
                          is_admin_only=el['is_admin_only'], deleted=0,
                          updated_at=stamps[el['path']])
            session.add(location)
            session.flush()
            _mark_metadata_loaded(location)
            _update_metadata(session, location, el['metadata'], base)
        session.flush()
        return [row.path for row in _live_rows(session, [share_instance_id])]


def _mark_metadata_loaded(location):
    """Mark the new row's metadata collection as loaded (it is empty)."""
    orm.attributes.set_committed_value(location, '_el_metadata_bare', [])


def export_location_get_all_by_share_instance_id(context, share_instance_id,
                                                 include_admin_only=True):
    with engine.reader(context) as session:
        instances.get(session, context, share_instance_id)
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
