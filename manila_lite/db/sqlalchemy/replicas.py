"""Queries on share replicas: share instances with a replica_state, read in batches, and their bulk replica_state writes."""

from oslo_utils import uuidutils
import sqlalchemy as sa
from sqlalchemy import orm

from manila_lite.common import constants
from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import export_locations
from manila_lite.db.sqlalchemy import instances
from manila_lite.db.sqlalchemy import model_base
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import utils
from manila_lite import exception

SI = models.ShareInstance


def _replicas_stmt(context):
    return (instances.batch_rows_stmt(utils.read_deleted_of(context, 'no'))
            .where(SI.replica_state.isnot(None)))


def share_replicas_get_all(context, with_share_data=False, host=None,
                           share_ids=None, exclude_active=False):
    """Live replicas, in one batch read whatever their number."""
    stmt = _replicas_stmt(context)
    if host:
        stmt = stmt.where(utils.host_filter(SI.host, host))
    if share_ids is not None:
        stmt = stmt.where(SI.share_id.in_(list(share_ids)))
    if exclude_active:
        stmt = stmt.where(SI.replica_state != constants.REPLICA_STATE_ACTIVE)
    stmt = stmt.order_by(SI.created_at, SI.id)
    with engine.reader(context) as session:
        return instances.load_rows(session, stmt,
                                   with_share_data=with_share_data)


def share_replica_get(context, replica_id, with_share_data=False):
    with engine.reader(context) as session:
        found = session.scalar(sa.select(SI.id).where(
            SI.id == replica_id, SI.replica_state.isnot(None),
            model_base.live(SI)))
        if found is None:
            raise exception.ShareReplicaNotFound(replica_id=replica_id)
        return instances.get(session, context, replica_id, with_share_data)


def share_replica_state_update(context, replica_ids, replica_state,
                               expected_statuses, values=None):
    """One UPDATE of the live, non-active replicas among the ids whose status is expected; returns the row count."""
    ids = list(replica_ids)
    if not ids:
        return 0
    table = SI.__table__
    updates = dict(values or {}, replica_state=replica_state,
                   updated_at=model_base.utcnow())
    with engine.writer(context) as session:
        stmt = (sa.update(table)
                .where(table.c.id.in_(ids),
                       table.c.deleted == model_base.STRING_LIVE,
                       table.c.replica_state.isnot(None),
                       table.c.replica_state !=
                       constants.REPLICA_STATE_ACTIVE,
                       table.c.status.in_(list(expected_statuses)))
                .values(**updates))
        return session.execute(stmt).rowcount


def share_instance_access_copy(context, share_id, instance_id):
    """Map every live access rule of the share to the instance (queued_to_apply); returns the rules."""
    rule = models.ShareAccessMapping
    mapping = models.ShareInstanceAccessMapping
    query = (sa.select(rule).where(rule.share_id == share_id,
                                   model_base.live(rule))
             .order_by(rule.created_at, rule.id))
    with engine.writer(context) as session:
        rules = list(session.scalars(query))
        mapped = set(session.scalars(
            sa.select(mapping.access_id).where(
                mapping.share_instance_id == instance_id,
                model_base.live(mapping))))
        new = [{'id': uuidutils.generate_uuid(), 'share_instance_id': instance_id,
                'access_id': r.id, 'deleted': model_base.STRING_LIVE,
                'created_at': model_base.utcnow(),
                'state': constants.ACCESS_STATE_QUEUED_TO_APPLY}
               for r in rules if r.id not in mapped]
        if new:
            session.execute(sa.insert(mapping.__table__), new)
        return list(session.scalars(
            query.options(orm.subqueryload(rule.instance_mappings)),
            execution_options={'populate_existing': True}))


def share_replicas_apply_promotion(context, changes):
    """Write a promotion's outcome for every replica in one transaction.

    ``changes``: a list of ``(replica id, values, export locations or
    None)``. Either every row changes or none does, so a crash never
    leaves the share with two active replicas or none.
    """
    with engine.writer(context) as session:
        for replica_id, values, locations in changes:
            if values:
                instances.update(session, context, replica_id, values)
            if locations is not None:
                export_locations.update_in_session(session, replica_id,
                                                   locations)


def replica_snapshot_instances_get(context, filters):
    """Live snapshot instances by snapshot_ids / share_instance_ids / statuses, with their snapshot; a constant number of statements.

    Their ``share`` is not loaded: the replica flows hold the replicas
    already and attach them.
    """
    snapinst = models.ShareSnapshotInstance
    stmt = sa.select(snapinst).where(model_base.live(snapinst))
    for key, column in (('snapshot_ids', snapinst.snapshot_id),
                        ('share_instance_ids', snapinst.share_instance_id),
                        ('statuses', snapinst.status)):
        values = utils.as_list(filters.get(key))
        if values:
            stmt = stmt.where(column.in_(values))
    stmt = (stmt.options(orm.subqueryload(snapinst.snapshot))
            .order_by(snapinst.created_at, snapinst.id))
    with engine.reader(context) as session:
        return list(session.scalars(stmt))


def share_snapshot_instances_status_update(context, snapshot_instance_ids,
                                           expected_statuses, values):
    """One UPDATE of the live snapshot instances among the ids whose status is expected; returns the row count."""
    ids = list(snapshot_instance_ids)
    if not ids:
        return 0
    table = models.ShareSnapshotInstance.__table__
    values = dict(values, updated_at=model_base.utcnow())
    with engine.writer(context) as session:
        return session.execute(
            sa.update(table).where(
                table.c.id.in_(ids),
                table.c.deleted == model_base.STRING_LIVE,
                table.c.status.in_(utils.as_list(expected_statuses)))
            .values(**values)).rowcount
