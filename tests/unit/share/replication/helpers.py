"""Rows of replicated shares written as upstream's API and scheduler write them, for the replication tests."""

from oslo_config import cfg
from oslo_utils import uuidutils
import sqlalchemy as sa

from manila_lite.db.sqlalchemy import models
from tests.unit.share import helpers

CONF = cfg.CONF
HOST = 'hostA@alpha#fake_pool_for_alpha'


def replicated_share(mgr, db, ctx, replication_type='readable', size=1):
    """An available share of a replicated type: its first instance is the active replica."""
    share, inst = helpers.make_share(db, ctx, size=size,
                                     replication_type=replication_type)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    db.share_instance_update(ctx, inst['id'], {'replica_state': 'active'})
    return db.share_get(ctx, share['id']), inst['id']


def add_replica(db, ctx, share_id, status='creating',
                replica_state='out_of_sync', host=HOST, readonly=True):
    """A replica row as upstream's API inserts it before the scheduler casts create_share_replica."""
    engine = db.get_engine()
    table = models.ShareInstance.__table__
    with engine.begin() as conn:
        row = dict(conn.execute(sa.select(table).where(
            table.c.share_id == share_id,
            table.c.deleted == 'False')).first()._mapping)
        row.update(id=uuidutils.generate_uuid(), status=status,
                   replica_state=replica_state, host=host,
                   cast_rules_to_readonly=readonly,
                   access_rules_status='active')
        conn.execute(sa.insert(table), [row])
    return row['id']


def instance_row(db, instance_id):
    table = models.ShareInstance.__table__
    with db.get_engine().connect() as conn:
        return dict(conn.execute(sa.select(table).where(
            table.c.id == instance_id)).first()._mapping)


def fail(methods, backend='alpha', option='dummy_driver_fail_methods'):
    """Make the dummy driver fail (or garble) ``methods`` from now on."""
    CONF.set_override(option, methods, group=backend)


def clear_faults(backend='alpha'):
    for option in ('dummy_driver_fail_methods',
                   'dummy_driver_invalid_return_methods'):
        try:
            CONF.clear_override(option, group=backend)
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
            pass


def replicated_snapshot(db, ctx, share, replica_ids, status='creating'):
    """A snapshot with one instance per replica, as upstream's API writes it for a replicated share."""
    snapshot = db.share_snapshot_create(ctx, {
        'share_id': share['id'], 'size': share['size'], 'user_id': 'u1',
        'project_id': 'p1', 'status': status, 'progress': '0%',
        'share_size': share['size'], 'display_name': 'snap',
        'share_proto': share['share_proto']})
    table = models.ShareSnapshotInstance.__table__
    with db.get_engine().begin() as conn:
        row = dict(conn.execute(sa.select(table).where(
            table.c.snapshot_id == snapshot['id'])).first()._mapping)
        rows = [dict(row, id=uuidutils.generate_uuid(), share_instance_id=rid)
                for rid in replica_ids]
        if rows:
            conn.execute(sa.insert(table), rows)
    return db.share_snapshot_get(ctx, snapshot['id'])


def snapshot_instances(db, snapshot_id):
    """``{share instance id: row}`` of a snapshot's instances, deleted or not."""
    table = models.ShareSnapshotInstance.__table__
    with db.get_engine().connect() as conn:
        return {r.share_instance_id: dict(r._mapping) for r in conn.execute(
            sa.select(table).where(table.c.snapshot_id == snapshot_id))}


def later(seconds):
    """A time ``seconds`` from now (what the reconciliation compares ages with)."""
    import datetime

    from oslo_utils import timeutils
    return timeutils.utcnow() + datetime.timedelta(seconds=seconds)
