"""Upstream API's create latency while the share service deletes a burst of shares: manila_lite's daemon vs upstream's manila-share.

Both share services run with a zero-delay dummy driver (ours; upstream's
``manila.tests.share.drivers.dummy.DummyDriver``) on upstream's schema
(its ``db sync``), a private PostgreSQL (or MariaDB with ``--mariadb``)
and RabbitMQ. For each: ``--seed`` shares are created and settle; then
upstream's API code (tests/functional/interop/api_load.py: its own
``QUOTAS.reserve``/``commit``) creates ``--creates`` shares from
``--threads`` threads while deleting the seeded ones, so every deletion's
quota release competes with the API's reservations for the project's
usage rows. Printed: create latency (reservation to cast) p50/p90/max and
the wall time, idle (no deletions) and under the delete storm.

    .venv/bin/python benchmarks/quota_contention.py --seed 150 --creates 100
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import sqlalchemy as sa

import common
from common import local_services

ROOT = common.ROOT
INTEROP = ROOT / 'tests' / 'functional' / 'interop'
HOST, BACKEND = 'qbench', 'alpha'


def _upstream_python():
    sys.path.insert(0, str(ROOT / 'tools'))
    import upstream_venv
    return upstream_venv.ensure_upstream_venv()


def _conf(workdir, db_url, mq_url, service):
    backend = {'share_backend_name': BACKEND,
               'driver_handles_share_servers': 'False',
               'dummy_driver_default_driver_method_delay': '0',
               'dummy_driver_driver_methods_delays': ''}
    if service == 'upstream':
        backend['share_driver'] = 'manila.tests.share.drivers.dummy.DummyDriver'
    else:
        backend['share_driver'] = 'dummy'
    sections = {
        'DEFAULT': {'host': HOST, 'enabled_share_backends': BACKEND,
                    'transport_url': mq_url, 'state_path': str(workdir),
                    'log_file': str(workdir / 'share.log'),
                    'periodic_fuzzy_delay': '0'},
        'database': {'connection': db_url},
        'oslo_concurrency': {'lock_path': str(workdir / 'locks')},
        BACKEND: backend}
    path = workdir / 'manila.conf'
    path.write_text(''.join('[%s]\n%s\n' % (name, ''.join(
        '%s = %s\n' % kv for kv in values.items()))
        for name, values in sections.items()))
    return path


def _start_service(service, conf, python):
    module = 'manila.cmd.share' if service == 'upstream' else \
        'manila_lite.cmd.share'
    exe = python if service == 'upstream' else sys.executable
    return subprocess.Popen([exe, '-m', module, '--config-file', str(conf)],
                            stdout=subprocess.DEVNULL,
                            stderr=open(conf.parent / 'share.err', 'w'))


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise SystemExit('timed out waiting for %s' % what)


def _api(python, db_url, mq_url, pool_host, creates, deletes, threads,
         share_type_id=None):
    cmd = [python, str(INTEROP / 'api_load.py'), '--transport-url', mq_url,
           '--connection', db_url, '--host', pool_host, '--creates',
           str(creates), '--delete-ids', json.dumps(deletes), '--threads',
           str(threads)]
    if share_type_id:
        cmd += ['--share-type-id', share_type_id]
    res = subprocess.run(cmd, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONWARNINGS='ignore'))
    if res.returncode != 0:
        raise SystemExit(res.stderr[-4000:])
    out = json.loads(res.stdout.strip().splitlines()[-1])
    if out['errors']:
        raise SystemExit('API errors: %s' % out['errors'][:5])
    return out


def _counts(engine):
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT status, count(*) FROM share_instances WHERE deleted = "
            "'False' GROUP BY status")).all())


def _figures(label, out):
    lat = out['latencies']
    print('  %-30s creates %3d  p50 %.3f s  p90 %.3f s  max %.3f s  '
          'wall %.1f s' % (label, len(lat), common.percentile(lat, 50),
                           common.percentile(lat, 90), max(lat),
                           out['seconds']))


def run_one(service, server, mq, python, args, workdir):
    name = 'qb_%s_%d' % (service, int(time.time()))
    db_url = server.create_database(name)
    subprocess.run([python, str(INTEROP / 'db_sync.py'), '--connection',
                    db_url], check=True, capture_output=True)
    conf = _conf(workdir, db_url, mq.url, service)
    proc = _start_service(service, conf, python)
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    pool_host = '%s@%s#fake_pool_for_%s' % (HOST, BACKEND, BACKEND)
    try:
        _wait(lambda: 'manila-share' in str(engine.connect().execute(
            sa.text('SELECT * FROM services')).all()), 120,
            '%s service row' % service)
        time.sleep(2)
        idle = _api(python, db_url, mq.url, pool_host, args.creates, [],
                    args.threads)
        st = idle['share_type_id']
        seeded = _api(python, db_url, mq.url, pool_host, args.seed, [],
                      args.threads, st)
        _wait(lambda: _counts(engine).get('available', 0) ==
              args.seed + args.creates, 300, 'shares available')
        storm = _api(python, db_url, mq.url, pool_host, args.creates,
                     [c['share_id'] for c in seeded['created']],
                     args.threads, st)
        _wait(lambda: _counts(engine).get('available', 0) ==
              2 * args.creates and not _counts(engine).get('deleting'), 300,
              'deletions done')
    finally:
        proc.terminate()
        proc.wait(60)
        engine.dispose()
    print('%s share service:' % service)
    _figures('idle', idle)
    _figures('beside %d deletions' % args.seed, storm)
    return storm


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seed', type=int, default=150)
    parser.add_argument('--creates', type=int, default=100)
    parser.add_argument('--threads', type=int, default=8)
    parser.add_argument('--mariadb', action='store_true')
    args = parser.parse_args()
    python = _upstream_python()
    base = pathlib.Path(tempfile.mkdtemp(prefix='ml-qbench-'))
    os.chmod(base, 0o755)
    mq = local_services.start_rabbitmq(str(base / 'mq'))
    server = (local_services.start_mariadb if args.mariadb else
              local_services.start_postgres)(str(base / 'db'))
    try:
        for service in ('manila_lite', 'upstream'):
            workdir = base / service
            workdir.mkdir()
            run_one(service, server, mq, python, args, workdir)
    finally:
        server.destroy()
        mq.destroy()


if __name__ == '__main__':
    main()
