"""localfs replication of a share of N files: replica creation, a periodic sync with nothing and with 1% changed, and promotion.

Usage: python benchmarks/replication_localfs.py [--files 1000,10000] [--kib 4]

In-process, against SQLite: two localfs backends of one replication
domain in a temporary directory (the filesystem there decides whether
copies are reflinks). Prints wall and CPU time of each step.
"""

import argparse
import os
import tempfile
import time

import common  # noqa: F401  (puts the repository on sys.path)
import periodic_sql
import replication


def _manager(tmp, name, ip):
    return periodic_sql._manager(
        tmp, name, share_driver='localfs',
        localfs_pools=[os.path.join(tmp, 'pools', name)],
        localfs_export_ips=[ip], replication_domain='rd',
        localfs_exports_file=os.path.join(tmp, name + '.exp'),
        localfs_apply_samba_config=False)


def _timed(label, func):
    t0, c0 = time.perf_counter(), time.process_time()
    func()
    print('  %-42s %9s wall %9s CPU' % (
        label, replication._ms(time.perf_counter() - t0),
        replication._ms(time.process_time() - c0)))


def _fill(directory, count, kib):
    block = os.urandom(kib * 1024)
    for i in range(count):
        sub = os.path.join(directory, 'd%03d' % (i // 1000))
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, 'f%06d' % i), 'wb') as f:
            f.write(block)


def _touch(directory, count):
    for i in range(0, count, 100):
        path = os.path.join(directory, 'd%03d' % (i // 1000), 'f%06d' % i)
        with open(path, 'ab') as f:
            f.write(b'changed')


def run_one(alpha, beta, db_api, ctx, files, kib):
    from tests.unit.share import helpers
    from tests.unit.share.replication import helpers as rh
    share, inst = helpers.make_share(db_api, ctx, host=alpha.host + '#alpha',
                                     replication_type='readable')
    alpha.create_share_instance(ctx, inst['id'])
    db_api.share_instance_update(ctx, inst['id'], {'replica_state': 'active'})
    active_dir = alpha.driver.registry.get(inst['id']).path
    _fill(active_dir, files, kib)
    print('%d files of %d KiB:' % (files, kib))
    replica_id = rh.add_replica(db_api, ctx, share['id'],
                                host=beta.host + '#beta')
    _timed('create_share_replica', lambda: beta.create_share_replica(
        ctx, share_replica_id=replica_id, share_id=share['id']))
    _timed('periodic update, nothing changed',
           lambda: beta.periodic_share_replica_update(ctx))
    _touch(active_dir, files)
    _timed('periodic update, 1% of files changed',
           lambda: beta.periodic_share_replica_update(ctx))
    db_api.share_instance_update(ctx, replica_id,
                                 {'status': 'replication_change'})
    _timed('promote_share_replica', lambda: beta.promote_share_replica(
        ctx, share_replica_id=replica_id, share_id=share['id']))
    row = db_api.share_instance_get(ctx, replica_id)
    if row['replica_state'] != 'active':
        raise SystemExit('promotion failed: %s' % row['replica_state'])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--files', default='1000,10000')
    parser.add_argument('--kib', type=int, default=4)
    args = parser.parse_args()
    from manila_lite import context
    tmp = tempfile.mkdtemp(prefix='ml-replication-localfs-')
    db_api = periodic_sql._setup('sqlite:///%s/bench.sqlite' % tmp)
    replication._coordination(tmp)
    alpha = _manager(tmp, 'alpha', '127.0.0.1')
    beta = _manager(tmp, 'beta', '127.0.0.2')
    ctx = context.get_admin_context()
    for files in (int(n) for n in args.files.split(',')):
        run_one(alpha, beta, db_api, ctx, files, args.kib)


if __name__ == '__main__':
    main()
