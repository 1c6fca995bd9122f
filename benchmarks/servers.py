"""DHSS=True share creation with a new share server and on an existing one, and the free-server clean-up at 10 and 1,000 servers.

Usage: python benchmarks/servers.py [--sizes 10,1000] [--ops 20] [--postgres]

The flows run in-process against SQLite (default) or a private PostgreSQL
with the dummy driver at zero delay and the standalone network plugin, so
the figures are the share service's own cost (DB round trips, locks,
allocation) per operation: ``create_share_instance`` on a fresh share
network (the server created, its addresses allocated and set up) and on a
network whose server exists (chosen and reused), as operations per second
and CPU milliseconds per operation. Then SQL statements (must be equal at
every size), CPU and wall milliseconds of one ``delete_free_share_servers``
run that deletes N unused servers with their allocations.
"""

import time

import common  # noqa: F401  (puts the repository on sys.path)
import periodic_sql
import replication


def _manager(tmp):
    from tests.unit.share import helpers
    return periodic_sql._manager(tmp, **helpers.dhss_options(
        'bench', standalone_network_plugin_mask='16',
        standalone_network_plugin_allowed_ip_ranges=[
            '10.254.0.10-10.254.250.250']))


def _timed_creates(mgr, db_api, ctx, ops, fresh_network):
    """Time ``create_share_instance`` alone (the rows are written before)."""
    from tests.unit.share import helpers
    from tests.unit.share import test_servers
    walls, cpus, server_ids = [], [], set()
    net_id = None
    for _ in range(ops):
        if fresh_network or net_id is None:
            net_id, _subnet = test_servers.make_network(db_api)
        if not fresh_network and not server_ids:
            # the server every timed create reuses
            server_ids.add(test_servers.create(
                mgr, db_api, ctx, net_id)['share_server_id'])
        _share, inst = helpers.make_share(
            db_api, ctx, host=mgr.host + '#pool', share_network_id=net_id)
        t0, c0 = time.perf_counter(), time.process_time()
        mgr.create_share_instance(ctx, inst['id'])
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        inst = db_api.share_instance_get(ctx, inst['id'])
        if inst['status'] != 'available':
            raise SystemExit('share %s ended %s' % (inst['share_id'],
                                                    inst['status']))
        server_ids.add(inst['share_server_id'])
    return walls, cpus, len(server_ids)


def _creates(mgr, db_api, ctx, ops):
    import statistics
    for label, fresh in (('on a new share network (server created)', True),
                         ('on an existing server (reused)', False)):
        walls, cpus, servers = _timed_creates(mgr, db_api, ctx, ops, fresh)
        print('create_share_instance %s: %.1f per second, median %s wall, '
              '%s CPU per operation (%d runs, %d servers)'
              % (label, len(walls) / sum(walls),
                 replication._ms(statistics.median(walls)),
                 replication._ms(statistics.mean(cpus)), ops, servers))


def _cleanup(mgr, db_api, ctx, sizes):
    from tests.unit.share import test_periodic_statements as tps
    for size in sizes:
        tps._seed_free_servers(db_api, ctx, mgr, size)
        count, cpu, wall = periodic_sql.measure(
            lambda: mgr.delete_free_share_servers(ctx))
        left = len(db_api.share_server_get_all_by_host(ctx, mgr.host))
        print('%6d servers: delete_free_share_servers %d SQL statements, '
              '%s CPU, %s wall (%d left: those with shares)'
              % (size, count, replication._ms(cpu), replication._ms(wall),
                 left))


def run(sizes, ops, db_url, tmp):
    from manila_lite import context
    db_api = periodic_sql._setup(db_url)
    replication._coordination(tmp)
    mgr = _manager(tmp)
    ctx = context.get_admin_context()
    _creates(mgr, db_api, ctx, ops)
    _cleanup(mgr, db_api, ctx, sizes)


def main():
    periodic_sql.sized_main(__doc__.splitlines()[0], 'ml-servers-', run)


if __name__ == '__main__':
    main()
