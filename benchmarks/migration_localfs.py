"""Driver-assisted migration of a localfs share of N files, and of a localfs share server with M shares, to another localfs backend.

Usage: python benchmarks/migration_localfs.py [--sizes 1000,10000] [--ops 3] [--servers 10,50] [--postgres]

In-process: two localfs backends (alpha, beta) with pools in a temporary
directory (its filesystem decides whether copies are reflinks), the
share manager's real flow (share/migration.py) on SQLite or a private
PostgreSQL. ``--sizes`` are file counts (4 KiB each, 1% of them changed
during phase 1 so the cut-over has something to sync); ``--ops``
migrations per size. Prints the median wall time, CPU and SQL statements
of ``migration_start``, of phase 1 (the background copy, polled by
``migration_driver_continue``) and of ``migration_complete``.

``--servers`` are share counts: M shares of ``_SERVER_FILES`` files each on
one share server of a DHSS=True localfs backend, moved to a server of
another one through the destination's server-migration flow
(share/server_migration.py); the same figures for
``share_server_migration_start``, phase 1 (polled by
``share_server_migration_driver_continue``) and
``share_server_migration_complete``.
"""

import argparse
import os
import statistics
import time

import common  # noqa: F401  (puts the repository on sys.path)
import periodic_sql
import replication_localfs

_KIB = 4
_SERVER_FILES = 5


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


def _report(title, runs):
    print(title)
    total = 0.0
    for step in runs[0]:
        statements, cpu, wall = (
            statistics.median(r[step][i] for r in runs) for i in range(3))
        total += wall
        print('  %-36s %9.1f ms wall %9.1f ms CPU %5d SQL' % (
            step, wall * 1000, cpu * 1000, statements))
    print('  %-36s %9.1f ms wall' % ('total', total * 1000))


def _server_manager(tmp, name, ips):
    from tests.unit.share import helpers
    options = helpers.dhss_options(
        name, standalone_network_plugin_mask='16',
        standalone_network_plugin_allowed_ip_ranges=[ips])
    return periodic_sql._manager(
        tmp, name, share_driver='localfs',
        localfs_pools=[os.path.join(tmp, 'servers', name, 'pool')],
        localfs_export_ips=[],
        localfs_exports_file=os.path.join(tmp, name + '.exp'),
        localfs_apply_samba_config=False, **options)


def _server_of(alpha, db_api, ctx, count):
    """A share server of ``alpha`` holding ``count`` filled shares, made ``server_migrating`` as the API does."""
    from tests.unit.share import test_servers
    net_id, _subnet = test_servers.make_network(db_api)
    insts = [test_servers.create(alpha, db_api, ctx, net_id)
             for _ in range(count)]
    server_id = insts[0]['share_server_id']
    directories = []
    for inst in insts:
        if (inst['share_server_id'], inst['status']) != (server_id,
                                                         'available'):
            raise SystemExit('share %s ended %s' % (inst['id'],
                                                    inst['status']))
        directories.append(alpha.driver.registry.get(inst['id']).path)
        replication_localfs._fill(directories[-1], _SERVER_FILES, _KIB)
        db_api.share_instance_update(ctx, inst['id'],
                                     {'status': 'server_migrating'})
    db_api.share_server_update(ctx, server_id, {
        'status': 'server_migrating', 'task_state': 'migration_starting'})
    return server_id, directories


def _migrate_server(alpha, beta, db_api, ctx, count):
    """Figures ``{step: (statements, cpu, wall)}`` of one server migration."""
    server_id, directories = _server_of(alpha, db_api, ctx, count)
    figures = {}
    figures['share_server_migration_start'] = periodic_sql.measure(
        lambda: beta.share_server_migration_start(
            ctx, share_server_id=server_id, dest_host=beta.host,
            writable=True, nondisruptive=False, preserve_snapshots=True))

    def phase1():
        while db_api.share_server_get(ctx, server_id)['task_state'] == \
                'migration_driver_in_progress':
            beta.share_server_migration_driver_continue(ctx)
            time.sleep(0.01)
    figures['phase 1 (copy)'] = periodic_sql.measure(phase1)
    dest = [s for s in db_api.share_server_get_all_by_host(ctx, beta.host)
            if s['source_share_server_id'] == server_id][0]
    figures['share_server_migration_complete'] = periodic_sql.measure(
        lambda: beta.share_server_migration_complete(
            ctx, src_share_server_id=server_id,
            dest_share_server_id=dest['id']))
    task_state = db_api.share_server_get(ctx, dest['id'])['task_state']
    if task_state != 'migration_success' or any(
            os.path.exists(d) for d in directories):
        raise SystemExit('migration of share server %s ended %s'
                         % (server_id, task_state))
    return figures


def run(sizes, ops, servers, db_url, tmp):
    from manila_lite import context
    import replication
    db_api = periodic_sql._setup(db_url)
    replication._coordination(tmp)
    alpha, beta = _managers(tmp)
    ctx = context.get_admin_context()
    for files in sizes:
        runs = [_migrate_one(alpha, beta, db_api, ctx, files)
                for _ in range(ops)]
        _report('%d files of %d KiB, median of %d migrations:'
                % (files, _KIB, ops), runs)
    if servers:
        alpha = _server_manager(tmp, 'salpha', '10.254.1.10-10.254.99.250')
        beta = _server_manager(tmp, 'sbeta', '10.254.100.10-10.254.199.250')
    for count in servers:
        runs = [_migrate_server(alpha, beta, db_api, ctx, count)
                for _ in range(ops)]
        _report('share server with %d shares of %d files of %d KiB, median '
                'of %d server migrations:' % (count, _SERVER_FILES, _KIB,
                                              ops), runs)


def _counts(text):
    return [int(s) for s in text.split(',') if s.strip()]


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', default='10,1000')
    parser.add_argument('--ops', type=int, default=20)
    parser.add_argument('--servers', default='10,50')
    parser.add_argument('--postgres', action='store_true')
    args = parser.parse_args()
    periodic_sql.run_on_db(
        'ml-migration-localfs-', args.postgres,
        lambda url, tmp: run(_counts(args.sizes), args.ops,
                             _counts(args.servers), url, tmp))
