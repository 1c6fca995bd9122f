"""Host-assisted migration of a localfs share of N files to another localfs backend, copied by upstream's real manila-data.

Usage: python benchmarks/migration_host_localfs.py [--sizes 1000,10000] [--ops 1]

A private RabbitMQ and PostgreSQL (upstream's ``db sync``), our daemon
with two localfs backends (alpha, beta) and upstream's manila-data from
the upstream venv (tests/functional/data_service.py), as the interop test
runs them. Upstream's share API (tests/functional/interop/
migration_host_flow.py) creates a share on alpha, adds N files of 4 KiB
and migrates it to beta with ``force_host_assisted_migration``; the
driver-assisted figures are benchmarks/migration_localfs.py's. Prints, per
size, the median wall seconds of the start (destination created, access
given to the data service, until the copy begins), of the copy (the data
service's mount and copy: task_state data_copying_in_progress until
data_copying_completed, polled every 20 ms), of the completion and in all.
"""

import argparse
import os
import pathlib
import statistics
import tempfile

import common  # noqa: F401  (puts the repository on sys.path)
from common import local_services

from tests.functional import data_service
from tests.functional import fixtures
from tests.functional.interop import conftest as interop

PHASES = ('start', 'copy', 'complete', 'total')


def _localfs(name, pool):
    return {'share_driver': 'localfs', 'share_backend_name': name,
            'driver_handles_share_servers': False, 'localfs_pools': pool,
            'localfs_export_ips': '127.0.0.1'}


def _stack(tmp, mq, db_url, upstream):
    """Our daemon with the alpha and beta backends on upstream's schema."""
    upstream('db_sync.py', '--connection', db_url)
    pools = {name: str(tmp / ('%s-pool' % name)) for name in ('alpha', 'beta')}
    options = {'DEFAULT': {'enabled_share_backends': 'alpha,beta',
                           'migration_create_delete_share_timeout': 600},
               'alpha': _localfs('alpha', pools['alpha']),
               'beta': _localfs('beta', pools['beta'])}
    factory = fixtures.DaemonFactory(tmp / 'daemons', mq.url,
                                     amqp_url=mq.amqp_url)
    return factory, factory(db_url, db_sync=False, options=options), pools


def _migrate(upstream, db_url, daemon, pools, files):
    seen = upstream(
        'migration_host_flow.py', '--connection', db_url,
        '--src-host', daemon.pool_host('alpha', 'alpha-pool'),
        '--dest-host', daemon.pool_host('beta', 'beta-pool'),
        '--src-pool', pools['alpha'], '--files', str(files),
        '--timeout', '1800', timeout=3600)
    if seen['completed'] != 'migration_success':
        raise SystemExit('migration ended %s: %s' % (seen['completed'], seen))
    return seen['timings']


def run(sizes, ops, tmp):
    import upstream_venv            # tools/ is on sys.path (common)
    upstream_python = upstream_venv.ensure_upstream_venv()
    mq = local_services.start_rabbitmq(str(tmp / 'mq'))
    pg = local_services.start_postgres(str(tmp / 'pg'))
    factory = None
    try:
        db_url = pg.create_database('hostmig_bench')
        upstream = interop.make_runner(upstream_python, mq.url)
        factory, daemon, pools = _stack(tmp, mq, db_url, upstream)
        with data_service.running(upstream_python, db_url, mq.url,
                                  tmp / 'manila-data', daemon.db):
            for files in sizes:
                runs = [_migrate(upstream, db_url, daemon, pools, files)
                        for _ in range(ops)]
                print('%d files of 4 KiB, host-assisted, median of %d:'
                      % (files, ops))
                for phase in PHASES:
                    print('  %-10s %9.2f s wall' % (phase, statistics.median(
                        r[phase] for r in runs)))
    finally:
        if factory is not None:
            factory.cleanup()
        for server in (mq, pg):
            server.destroy() if hasattr(server, 'destroy') else server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', default='1000,10000')
    parser.add_argument('--ops', type=int, default=1)
    args = parser.parse_args()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix='ml-migration-host-'))
    os.chmod(tmp, 0o755)
    run([int(n) for n in args.sizes.split(',')], args.ops, tmp)


if __name__ == '__main__':
    main()
