"""Create and delete throughput, latency and daemon CPU per operation, through real RabbitMQ and PostgreSQL.

Usage: python benchmarks/throughput.py [--shares N] [--concurrency C]

The daemon runs the dummy driver with zero delay. N share rows are written
as upstream's API writes them, then N ``create_share_instance`` casts are
sent at once from C client threads; the same for ``delete_share_instance``.
Latency is from the cast to the row's ``launched_at`` / ``deleted_at``; CPU
is the daemon process tree's user+system time (from /proc) spent while the
casts drained.
"""

import argparse
import concurrent.futures
import datetime
import time

import common


def _make_rows(db_api, ctx, n, host):
    from oslo_utils import timeutils
    share_type = db_api.share_type_create(ctx, {
        'name': 'bench', 'extra_specs': {'driver_handles_share_servers': 'False'}})
    ids = []
    for i in range(n):
        share = db_api.share_create(ctx, {
            'user_id': 'u', 'project_id': 'p', 'size': 1,
            'display_name': 'bench-%d' % i, 'share_proto': 'NFS',
            'status': 'creating', 'host': host,
            'scheduled_at': timeutils.utcnow(),
            'share_type_id': share_type['id'],
            'cast_rules_to_readonly': False})
        ids.append(share.instance['id'])
    return ids


def _cast_all(ids, concurrency, send):
    sent = {}

    def one(iid):
        sent[iid] = datetime.datetime.utcnow()
        send(iid)
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, ids))
    return sent, time.monotonic() - start


def _wait(env, sql, expected, timeout=600):
    import sqlalchemy
    from manila_lite.db import api as db_api
    engine = db_api.get_engine()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(sqlalchemy.text(sql)).scalar() == expected:
                return time.monotonic()
        time.sleep(0.02)
    raise SystemExit('timed out waiting for: %s' % sql)


def _latencies(sent, sql):
    import sqlalchemy
    from manila_lite.db import api as db_api
    with db_api.get_engine().connect() as conn:
        rows = conn.execute(sqlalchemy.text(sql)).fetchall()
    return [(done - sent[iid]).total_seconds() * 1000.0
            for iid, done in rows if iid in sent and done is not None]


def _report(kind, n, elapsed, lat, cpu):
    print('%-7s %5d shares  %7.1f /s  p50 %7.1f ms  p95 %7.1f ms  '
          'daemon CPU %6.2f ms per %s' % (
              kind, n, n / elapsed, common.percentile(lat, 50),
              common.percentile(lat, 95), cpu * 1000.0 / n, kind))


def run(n, concurrency):
    from manila_lite import context
    from manila_lite.share import rpcapi
    with common.Environment() as env:
        from manila_lite.db import api as db_api
        ctx = context.get_admin_context()
        api = rpcapi.ShareAPI()
        env.start_daemon()
        env.wait_consuming()
        ids = _make_rows(db_api, ctx, n, env.pool_host())
        time.sleep(1.0)
        pid = env.daemon.pid
        cpu0 = common.cpu_seconds(pid)
        t0 = time.monotonic()
        sent, cast_time = _cast_all(ids, concurrency, lambda iid: api.create_share_instance(
            ctx, {'id': iid, 'host': env.pool_host()}, env.pool_host(), {}, {}))
        done = _wait(env, "SELECT count(*) FROM share_instances WHERE "
                          "status = 'available'", n)
        cpu_create = common.cpu_seconds(pid) - cpu0
        lat = _latencies(sent, 'SELECT id, launched_at FROM share_instances')
        _report('create', n, done - t0, lat, cpu_create)
        print('        casts sent in %.2f s by %d threads' % (cast_time, concurrency))

        db_api.share_instance_status_update(
            ctx, ids, {'status': 'deleting',
                       'terminated_at': datetime.datetime.utcnow()})
        time.sleep(1.0)
        cpu0 = common.cpu_seconds(pid)
        t0 = time.monotonic()
        sent, cast_time = _cast_all(ids, concurrency, lambda iid: api.delete_share_instance(
            ctx, {'id': iid, 'host': env.pool_host()}, force=False,
            deferred_delete=False))
        done = _wait(env, "SELECT count(*) FROM share_instances WHERE "
                          "deleted = 'False'", 0)
        cpu_delete = common.cpu_seconds(pid) - cpu0
        lat = _latencies(sent, 'SELECT id, deleted_at FROM share_instances')
        _report('delete', n, done - t0, lat, cpu_delete)
        print('        casts sent in %.2f s by %d threads' % (cast_time, concurrency))
        print('idle daemon RSS after the run: %.1f MiB' %
              common.rss_mib(pid))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--shares', type=int, default=500)
    parser.add_argument('--concurrency', type=int, default=8)
    args = parser.parse_args()
    run(args.shares, args.concurrency)


if __name__ == '__main__':
    main()
