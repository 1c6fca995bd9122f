"""Driver-assisted migration of a localfs share of N files to another localfs backend: start, the phase-1 copy, and the cut-over.

Usage: python benchmarks/migration_localfs.py [--sizes 1000,10000] [--ops 3] [--postgres]

In-process: two localfs backends (alpha, beta) with pools in a temporary
directory (its filesystem decides whether copies are reflinks), the
share manager's real flow (share/migration.py) on SQLite or a private
PostgreSQL. ``--sizes`` are file counts (4 KiB each, 1% of them changed
during phase 1 so the cut-over has something to sync); ``--ops``
migrations per size. Prints the median wall time, CPU and SQL statements
of ``migration_start``, of phase 1 (the background copy, polled by
``migration_driver_continue``) and of ``migration_complete``.
"""

import os
import statistics
import time

import common  # noqa: F401  (puts the repository on sys.path)
import periodic_sql
import replication_localfs

_KIB = 4


def _managers(tmp):
    from oslo_config import cfg
    # the drivers name their backend after ``host``, as the daemon's do
    cfg.CONF.set_override('host', 'benchhost')
    return [periodic_sql._manager(
        tmp, name, share_driver='localfs',
        localfs_pools=[os.path.join(tmp, 'pools', name)],
        localfs_export_ips=[ip],
        localfs_exports_file=os.path.join(tmp, name + '.exp'),
        localfs_apply_samba_config=False)
        for name, ip in (('alpha', '127.0.0.1'), ('beta', '127.0.0.2'))]


def _share_of(alpha, db_api, ctx, files):
    from tests.unit.share import helpers
    share, inst = helpers.make_share(db_api, ctx, host=alpha.host + '#alpha')
    alpha.create_share_instance(ctx, inst['id'])
    directory = alpha.driver.registry.get(inst['id']).path
    replication_localfs._fill(directory, files, _KIB)
    db_api.share_update(ctx, share['id'],
                        {'task_state': 'migration_starting'})
    db_api.share_instance_update(ctx, inst['id'], {'status': 'migrating'})
    return share['id'], inst['id'], directory


def _phase1(alpha, db_api, ctx, share_id):
    while db_api.share_get(ctx, share_id)['task_state'] == \
            'migration_driver_in_progress':
        alpha.migration_driver_continue(ctx)
        time.sleep(0.01)


def _migrate_one(alpha, beta, db_api, ctx, files):
    """Figures ``{step: (statements, cpu, wall)}`` of one migration."""
    share_id, src_id, directory = _share_of(alpha, db_api, ctx, files)
    figures = {}
    figures['migration_start'] = periodic_sql.measure(
        lambda: alpha.migration_start(
            ctx, share_id=share_id, dest_host=beta.host + '#beta',
            force_host_assisted_migration=False, preserve_metadata=False,
            writable=True, nondisruptive=False, preserve_snapshots=False))
    replication_localfs._touch(directory, files)
    figures['phase 1 (copy)'] = periodic_sql.measure(
        lambda: _phase1(alpha, db_api, ctx, share_id))
    dest = [i for i in db_api.share_instance_get_all(
        ctx, {'share_id': share_id}) if i['status'] == 'migrating_to'][0]
    figures['migration_complete (sync)'] = periodic_sql.measure(
        lambda: alpha.migration_complete(ctx, src_instance_id=src_id,
                                         dest_instance_id=dest['id']))
    task_state = db_api.share_get(ctx, share_id)['task_state']
    if task_state != 'migration_success' or os.path.exists(directory):
        raise SystemExit('migration of share %s ended %s'
                         % (share_id, task_state))
    return figures


def run(sizes, ops, db_url, tmp):
    from manila_lite import context
    import replication
    db_api = periodic_sql._setup(db_url)
    replication._coordination(tmp)
    alpha, beta = _managers(tmp)
    ctx = context.get_admin_context()
    for files in sizes:
        runs = [_migrate_one(alpha, beta, db_api, ctx, files)
                for _ in range(ops)]
        print('%d files of %d KiB, median of %d migrations:'
              % (files, _KIB, ops))
        total = 0.0
        for step in runs[0]:
            statements, cpu, wall = (
                statistics.median(r[step][i] for r in runs)
                for i in range(3))
            total += wall
            print('  %-28s %9.1f ms wall %9.1f ms CPU %5d SQL' % (
                step, wall * 1000, cpu * 1000, statements))
        print('  %-28s %9.1f ms wall' % ('total', total * 1000))


if __name__ == '__main__':
    periodic_sql.sized_main(__doc__.splitlines()[0], 'ml-migration-localfs-',
                            run)
