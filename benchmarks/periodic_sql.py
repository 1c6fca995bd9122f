"""SQL statements issued by one run of every periodic task, at 10 and at 1,000 shares on the host.

Usage: python benchmarks/periodic_sql.py [--sizes 10,1000] [--postgres]

Every periodic task of the ShareManager is run once (as if all were due),
with usage gathering enabled, against SQLite (default) or a private
PostgreSQL; statements are counted with SQLAlchemy's before_cursor_execute
event. The count must not grow with the number of shares.
"""

import argparse
import os
import tempfile
import time

import common  # noqa: F401  (puts the repository on sys.path)


def _setup(db_url):
    import manila_lite.cmd  # noqa: F401
    from manila_lite import conf  # noqa: F401
    from manila_lite.db import api as db_api
    from manila_lite.db import migration
    from manila_lite import rpc
    from oslo_config import cfg
    cfg.CONF([], project='manila-lite-bench')
    cfg.CONF.set_override('connection', db_url, group='database')
    cfg.CONF.set_override('enable_gathering_share_usage_size', True)
    db_api.dispose_engine()
    migration.db_sync()
    rpc.init(cfg.CONF, url='fake://')
    return db_api


def _manager(tmp, name='bench', **options):
    """An initialized in-process ShareManager of backend ``name`` (``options`` override its section)."""
    from manila_lite import context
    from manila_lite.db import api as db_api
    from manila_lite.share import manager as share_manager
    from oslo_config import cfg
    from tests.unit.conftest import configure_backend
    cfg.CONF.set_override('lock_path', tmp, group='oslo_concurrency')
    configure_backend(name, **options)
    mgr = share_manager.ShareManager(host='benchhost@%s' % name,
                                     service_name=name)
    mgr.init_driver()
    svc = db_api.service_create(context.get_admin_context(), {
        'host': mgr.host, 'binary': 'manila-share', 'topic': 'manila-share',
        'report_count': 0, 'state': 'up'})
    mgr.service_id = svc['id']
    return mgr


def _add_shares(db_api, ctx, n):
    from tests.unit.share import helpers
    statuses = ('available', 'available', 'available', 'creating_from_snapshot')
    for i in range(n):
        helpers.make_share(db_api, ctx, status=statuses[i % len(statuses)],
                           host='benchhost@bench#fake_pool_for_bench')


def measure(func):
    """Run ``func()``; return ``(SQL statements sent, CPU seconds, wall seconds)``."""
    from manila_lite.db import api as db_api
    from tests.unit.db import helpers as db_helpers
    t0, c0 = time.perf_counter(), time.process_time()
    with db_helpers.StatementCounter(db_api.get_engine()) as counter:
        func()
    return (counter.count, time.process_time() - c0,
            time.perf_counter() - t0)


def _count_one_run(mgr, ctx):
    def every_task():
        for _name, task in mgr._periodic_tasks:
            task(mgr, ctx)
    count, cpu, _wall = measure(every_task)
    return count, cpu


def run(sizes, db_url, tmp):
    from manila_lite import context
    db_api = _setup(db_url)
    mgr = _manager(tmp)
    ctx = context.get_admin_context()
    have = 0
    tasks = ', '.join(name for name, _task in mgr._periodic_tasks)
    print('periodic tasks: %s' % tasks)
    for size in sizes:
        _add_shares(db_api, ctx, size - have)
        have = size
        _count_one_run(mgr, ctx)            # settle first-run work
        count, cpu = _count_one_run(mgr, ctx)
        print('%6d shares: %4d SQL statements per periodic run '
              '(%.0f ms CPU)' % (size, count, cpu * 1000))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', default='10,1000')
    parser.add_argument('--postgres', action='store_true')
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(',')]
    run_on_db('ml-periodic-', args.postgres,
              lambda url, tmp: run(sizes, url, tmp))


def sized_main(description, prefix, run_sized):
    """Parse ``--sizes``, ``--ops`` and ``--postgres``, then ``run_sized(sizes, ops, db url, tmp)`` (the replication and servers benchmarks)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--sizes', default='10,1000')
    parser.add_argument('--ops', type=int, default=20)
    parser.add_argument('--postgres', action='store_true')
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(',')]
    run_on_db(prefix, args.postgres,
              lambda url, tmp: run_sized(sizes, args.ops, url, tmp))


def run_on_db(prefix, postgres, func):
    """``func(db url, tmp dir)`` on SQLite in a new temporary directory, or on a private PostgreSQL."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    os.chmod(tmp, 0o755)    # PostgreSQL runs as its own user
    if not postgres:
        return func('sqlite:///%s/bench.sqlite' % tmp, tmp)
    pg = common.local_services.start_postgres(tmp + '/pg')
    try:
        return func(pg.url, tmp)
    finally:
        pg.stop()


if __name__ == '__main__':
    main()
