"""Queries on shares and share_metadata, including upstream's share/instance split on create and update."""

import copy

import sqlalchemy as sa
from sqlalchemy import orm

from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import instances
from manila_lite.db.sqlalchemy import model_base
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import models_infra
from manila_lite.db.sqlalchemy import services
from manila_lite.db.sqlalchemy import utils
from manila_lite import exception

# Keys of a share dict that belong to its instance (upstream's list).
INSTANCE_KEYS = (
    'status', 'host', 'scheduled_at', 'launched_at', 'terminated_at',
    'share_server_id', 'share_network_id', 'availability_zone_id',
    'replica_state', 'share_type_id', 'share_type', 'access_rules_status',
    'mount_point_name', 'encryption_key_ref', 'qos_type_id',
)
# share_create also routes this one to the new instance.
CREATE_INSTANCE_KEYS = INSTANCE_KEYS + ('cast_rules_to_readonly',)

Share = models.Share


def get(session, context, share_id, read_deleted=None, refresh=False):
    stmt = (utils.model_query(context, Share, read_deleted)
            .where(Share.id == share_id)
            .options(*instances.share_options()))
    if refresh:
        stmt = stmt.execution_options(populate_existing=True)
    share = session.scalars(stmt).first()
    if share is None:
        raise exception.ShareNotFound(share_id=share_id)
    return instances.link_share(share)


def share_get(context, share_id):
    with engine.reader(context) as session:
        return get(session, context, share_id)


def _add_metadata(session, share_id, metadata):
    for key, value in (metadata or {}).items():
        value = utils.metadata_value(key, value)
        if value is not None:
            session.add(models.ShareMetadata(share_id=share_id, key=key,
                                             value=value))


def share_create(context, share_values, create_share_instance=True):
    values = utils.ensure_id(copy.deepcopy(dict(share_values)))
    metadata = values.pop('metadata', None)
    with engine.writer(context) as session:
        services.translate_availability_zone(session, context, values)
        instance_values, values = utils.split_values(values,
                                                     CREATE_INSTANCE_KEYS)
        share = Share()
        utils.apply_values(share, values)
        session.add(share)
        session.flush()
        _add_metadata(session, share.id, metadata)
        if create_share_instance:
            instance_values = instances.prepare_values(
                session, context, instance_values)
            instance = models.ShareInstance(share_id=share.id)
            utils.apply_values(instance, utils.ensure_id(instance_values))
            session.add(instance)
        session.flush()
        return get(session, context, share.id, refresh=True)


def share_update(context, share_id, values):
    values = copy.deepcopy(dict(values))
    with engine.writer(context) as session:
        services.translate_availability_zone(session, context, values)
        instance_values, share_values = utils.split_values(values,
                                                           INSTANCE_KEYS)
        share = get(session, context, share_id)
        if instance_values:
            if share.instance is None:
                raise exception.InvalidShare(
                    reason='share %s has no live instance' % share_id)
            instances.update(session, context, share.instance['id'],
                             instance_values)
        utils.apply_values(share, share_values)
        session.flush()
        return get(session, context, share_id, refresh=True)


def share_get_all(context, filters=None):
    """Shares filtered on their own columns, plus ``host`` (any live instance)."""
    filters = dict(filters or {})
    stmt = utils.model_query(context, Share, read_deleted='no').where(
        Share.is_soft_deleted == bool(filters.pop('is_soft_deleted', False)))
    host = filters.pop('host', None)
    if host:
        si = models.ShareInstance
        stmt = stmt.where(sa.exists().where(
            si.share_id == Share.id, model_base.live(si),
            utils.host_filter(si.host, host)))
    unknown = [k for k in filters if k not in Share.__table__.c]
    if unknown:
        raise exception.InvalidInput(
            reason='unknown share filters: %s' % ', '.join(unknown))
    stmt = utils.exact_filter(stmt, Share, filters, list(filters))
    stmt = stmt.order_by(Share.created_at, Share.id).options(
        *instances.share_options())
    with engine.reader(context) as session:
        return [instances.link_share(s) for s in session.scalars(stmt)]


def _metadata_rows(session, share_id):
    meta = models.ShareMetadata
    stmt = sa.select(meta).where(meta.share_id == share_id,
                                 model_base.live(meta)).order_by(meta.id)
    return list(session.scalars(stmt))


def _require_share(session, context, share_id):
    stmt = utils.model_query(context, Share).where(Share.id == share_id)
    if session.scalars(stmt).first() is None:
        raise exception.ShareNotFound(share_id=share_id)


def share_metadata_get(context, share_id):
    with engine.reader(context) as session:
        _require_share(session, context, share_id)
        rows = _metadata_rows(session, share_id)
    return {row.key: row.value for row in rows}


def share_metadata_update(context, share_id, metadata, delete=False):
    """Upsert ``metadata``; with ``delete`` soft-delete keys not in it."""
    with engine.writer(context) as session:
        _require_share(session, context, share_id)
        utils.lock_row(session, Share, share_id)
        utils.upsert_metadata(session, models.ShareMetadata, 'share_id',
                              share_id, metadata, delete=delete)
    return metadata


def share_get_all_expired(context):
    """Shares in the recycle bin past ``scheduled_to_be_deleted_at``, with live instances and metadata.

    Three SELECTs however many shares: the shares, then their instances
    and their metadata by one subquery load each.
    """
    stmt = (utils.model_query(context, Share, read_deleted='no')
            .where(Share.is_soft_deleted.is_(True),
                   Share.scheduled_to_be_deleted_at <= model_base.utcnow())
            .order_by(Share.scheduled_to_be_deleted_at, Share.id)
            .options(orm.subqueryload(Share.instances),
                     orm.subqueryload(Share.share_metadata)))
    with engine.reader(context) as session:
        return [instances.link_share(s) for s in session.scalars(stmt)]


# What keeps upstream's share API from deleting a share, as (name, condition
# on shares.id) pairs: dependent snapshots, backups, snapshot instances
# (share group snapshot members) and resource locks on "delete".
def _blockers():
    snap = models.ShareSnapshot
    backup = models_infra.ShareBackup
    snapinst = models.ShareSnapshotInstance
    si = models.ShareInstance
    lock = models_infra.ResourceLock
    return (
        ('snapshots', sa.exists().where(snap.share_id == Share.id,
                                        model_base.live(snap))),
        ('backups', sa.exists().where(backup.share_id == Share.id,
                                      model_base.live(backup))),
        ('share group snapshot members', sa.exists().where(
            snapinst.share_instance_id == si.id, si.share_id == Share.id,
            model_base.live(snapinst))),
        ('resource locks', sa.exists().where(
            lock.resource_id == Share.id, lock.resource_action == 'delete',
            model_base.live(lock))),
    )


def share_deletion_blockers(context, share_ids):
    """``{share_id: [names]}`` of the dependents or locks that block each share's deletion (one SELECT)."""
    if not share_ids:
        return {}
    blockers = _blockers()
    stmt = (sa.select(Share.id, *[cond for _name, cond in blockers])
            .where(Share.id.in_(list(share_ids))))
    with engine.reader(context) as session:
        rows = session.execute(stmt).all()
    return {row[0]: [name for (name, _c), hit in zip(blockers, row[1:])
                     if hit]
            for row in rows}


def share_metadata_delete(context, share_id, key):
    """Soft-delete one metadata key of a share (no-op if absent); raises ShareNotFound."""
    meta = models.ShareMetadata
    with engine.writer(context) as session:
        _require_share(session, context, share_id)
        utils.soft_delete_where(session, meta, meta.share_id == share_id,
                                meta.key == key)


def share_instance_create(context, share_id, values):
    """Insert one more instance of a live share (a migration destination) and return it with share data."""
    with engine.writer(context) as session:
        get(session, context, share_id)    # ShareNotFound for a missing share
        instance_values = instances.prepare_values(session, context, values)
        instance = models.ShareInstance(share_id=share_id)
        utils.apply_values(instance, utils.ensure_id(instance_values))
        session.add(instance)
        session.flush()
        return instances.get(session, context, instance.id,
                             with_share_data=True, refresh=True)


def shares_task_state_conditional_update(context, share_ids, expected,
                                         task_state):
    """One UPDATE of the live shares among the ids whose task_state is expected; returns the ids that moved."""
    ids = list(share_ids)
    if not ids:
        return []
    table = Share.__table__
    found = sa.and_(table.c.id.in_(ids),
                    table.c.deleted == model_base.STRING_LIVE,
                    table.c.task_state.in_(utils.as_list(expected)))
    update = sa.update(table).values(task_state=task_state,
                                     updated_at=model_base.utcnow())
    with engine.writer(context) as session:
        return utils.update_moved_ids(session, table, found, update)
