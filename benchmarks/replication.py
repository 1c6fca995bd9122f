"""Replica creation and promotion time (dummy driver), and the cost of one periodic replica update at 10 and 1,000 replicas.

Usage: python benchmarks/replication.py [--sizes 10,1000] [--ops 20] [--postgres]

The flows run in-process against SQLite (default) or a private PostgreSQL
with the dummy driver at zero delay, so the figures are the share
service's own cost (DB round trips, locks) per operation. The periodic
figures are SQL statements (must be equal at every size), CPU and wall
milliseconds of one ``periodic_share_replica_update`` run with every
non-active replica out_of_sync.
"""

import statistics
import time

import common  # noqa: F401  (puts the repository on sys.path)
import periodic_sql


def _coordination(tmp):
    from manila_lite import coordination
    from oslo_config import cfg
    cfg.CONF.set_override('backend_url', 'file://%s/tooz' % tmp,
                          group='coordination')
    coordination.LOCK_COORDINATOR = coordination.Coordinator()


def _ms(seconds):
    return '%.1f ms' % (seconds * 1000)


def _operations(mgr, db_api, ctx, ops):
    from tests.unit.share import helpers
    from tests.unit.share.replication import helpers as rh
    creates, promotes = [], []
    for _ in range(ops):
        share, _active = rh.replicated_share(mgr, db_api, ctx)
        replica_id = rh.add_replica(db_api, ctx, share['id'],
                                    host=mgr.host + '#fake_pool_for_bench')
        t0 = time.perf_counter()
        mgr.create_share_replica(helpers.user_ctx(),
                                 share_replica_id=replica_id,
                                 share_id=share['id'])
        creates.append(time.perf_counter() - t0)
        db_api.share_instance_update(ctx, replica_id,
                                     {'status': 'replication_change'})
        t0 = time.perf_counter()
        mgr.promote_share_replica(helpers.user_ctx(),
                                  share_replica_id=replica_id,
                                  share_id=share['id'])
        promotes.append(time.perf_counter() - t0)
    print('create_share_replica: median %s, max %s (%d runs)'
          % (_ms(statistics.median(creates)), _ms(max(creates)), ops))
    print('promote_share_replica: median %s, max %s (%d runs)'
          % (_ms(statistics.median(promotes)), _ms(max(promotes)), ops))
    # the template of the periodic runs: one non-active replica here
    share, _active = rh.replicated_share(mgr, db_api, ctx)
    rh.add_replica(db_api, ctx, share['id'], status='available',
                   replica_state='in_sync',
                   host=mgr.host + '#fake_pool_for_bench')
    return share


def _periodic(mgr, db_api, ctx, share, sizes):
    import sqlalchemy as sa

    from manila_lite.db.sqlalchemy import models
    from tests.unit.share import test_periodic_statements as tps
    engine = db_api.get_engine()
    si = models.ShareInstance.__table__
    have = 1
    for size in sizes:
        if size > have:
            tps._clone_share(engine, share['id'], size - have)
            have = size
        with engine.begin() as conn:
            conn.execute(sa.update(si).where(
                si.c.replica_state == 'in_sync').values(
                replica_state='out_of_sync'))
        count, cpu, wall = periodic_sql.measure(
            lambda: mgr.periodic_share_replica_update(ctx))
        print('%6d replicas: periodic_share_replica_update %d SQL '
              'statements, %s CPU, %s wall'
              % (have, count, _ms(cpu), _ms(wall)))


def run(sizes, ops, db_url, tmp):
    from manila_lite import context
    db_api = periodic_sql._setup(db_url)
    _coordination(tmp)
    mgr = periodic_sql._manager(tmp)
    ctx = context.get_admin_context()
    share = _operations(mgr, db_api, ctx, ops)
    _periodic(mgr, db_api, ctx, share, sizes)


def main():
    periodic_sql.sized_main(__doc__.splitlines()[0], 'ml-replication-', run)


if __name__ == '__main__':
    main()
