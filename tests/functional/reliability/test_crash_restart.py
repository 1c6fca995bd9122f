"""Crash and restart.

The daemon is SIGKILLed in the middle of creates, deletes, extends, snapshots
and access changes on the localfs driver, started again, and the database must
agree with the real directories and exports file.

What settles the interrupted work at the second start: casts that were
delivered but not acknowledged come back from the broker; rows whose cast
was acknowledged by the killed process are settled by the start-up
reconciliation (``transitional_state_timeout``, short here); access rules
left ``applying``/``denying`` are queued again by the start-up ensure.
"""

import itertools
import os
import signal
import time

import pytest

from tests.functional import fixtures
from tests.functional import share_rows as rows

pytestmark = pytest.mark.functional

CREATES = 60
GROUP = 4                   # base shares per kind of interrupted operation
SETTLE_TIMEOUT = 120.0

SHARE_TRANSITIONAL = ('creating', 'deleting', 'extending', 'shrinking',
                      'ensuring', 'deferred_deleting', 'managing',
                      'unmanaging', 'reverting')
SNAPSHOT_TRANSITIONAL = ('creating', 'deleting', 'restoring')
RULE_TRANSITIONAL = ('queued_to_apply', 'applying', 'queued_to_deny',
                     'denying', 'queued_to_update', 'updating')


def _options(tmp_path, timeout):
    return {
        'DEFAULT': {'transitional_state_timeout': timeout,
                    'transitional_state_check_interval': 1},
        'alpha': {'share_driver': 'localfs',
                  'localfs_pools': str(tmp_path / 'pools' / 'alpha'),
                  'localfs_export_ips': '127.0.0.1',
                  'localfs_enabled_share_protocols': 'NFS',
                  'localfs_apply_samba_config': False},
    }


def _pool(tmp_path):
    return str(tmp_path / 'pools' / 'alpha')


def _exports(daemon):
    """{directory: {client: level}} of the exports file the driver owns."""
    path = os.path.join(daemon.options['DEFAULT']['state_path'], 'localfs',
                        'alpha.exports')
    result = {}
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith('#'):
                continue
            directory, *clients = line.split()
            result[directory] = {c.split('(')[0]: c.split('(')[1][:2]
                                 for c in clients}
    return result


def _private(daemon, entity_id, key):
    return daemon.db.scalar(
        'SELECT value FROM drivers_private_data WHERE entity_uuid = :e '
        'AND "key" = :k AND deleted = 0', e=entity_id, k=key)


def _rule(pg, share, to, state=None):
    values = {'share_id': share['id'], 'access_type': 'ip',
              'access_to': to, 'access_level': 'rw'}
    if state:
        values['state'] = state
    return pg.share_access_create(rows.admin_ctx(), values)


def _snapshot(pg, share, status):
    snap = pg.share_snapshot_create(rows.admin_ctx(), {
        'share_id': share['id'], 'size': share['size'], 'user_id': 'u1',
        'project_id': 'p1', 'status': status, 'progress': '0%',
        'share_size': share['size'], 'display_name': 'snap',
        'share_proto': share['share_proto']})
    return snap


def _wait_all(daemon, sql, expected, message, timeout=60, **params):
    daemon.wait_for(lambda: daemon.db.scalar(sql, **params) == expected,
                    timeout=timeout, message=message)


def _base(pg, daemon, share_rpc):
    """4 x GROUP available shares; the last group with a snapshot and an active rule each."""
    ctx = rows.user_ctx()
    shares = [rows.share(pg, daemon, 'creating') for _ in range(4 * GROUP)]
    for share in shares:
        share_rpc.create_share_instance(ctx, share['instance'],
                                        daemon.pool_host(), {}, {})
    _wait_all(daemon, "SELECT count(*) FROM share_instances WHERE status = "
              "'available'", len(shares), 'base shares available')
    snapshots = []
    for share in shares[3 * GROUP:]:
        snapshots.append(_snapshot(pg, share, 'creating'))
        share_rpc.create_snapshot(ctx, share, snapshots[-1])
        _rule(pg, share, '10.9.0.1')
        share_rpc.update_access(ctx, share['instance'])
    _wait_all(daemon, "SELECT count(*) FROM share_snapshot_instances WHERE "
              "status = 'available'", GROUP, 'base snapshots available')
    _wait_all(daemon, "SELECT count(*) FROM share_instance_access_map WHERE "
              "state = 'active'", GROUP, 'base rules active')
    return ([pg.share_get(rows.admin_ctx(), s['id']) for s in shares],
            snapshots)


def _storm(pg, daemon, share_rpc, base, old_snaps):
    """Write rows as the API does and cast every operation back to back."""
    ctx, admin = rows.user_ctx(), rows.admin_ctx()
    deletes, extends, snaps, denies = (base[i * GROUP:(i + 1) * GROUP]
                                       for i in range(4))
    new = [rows.share(pg, daemon, 'creating') for _ in range(CREATES)]
    new_snaps = [(s, _snapshot(pg, s, 'creating')) for s in snaps]
    for share in snaps:
        _rule(pg, share, '10.8.0.0/24')
    for share in denies:
        mapping = pg.share_instance_access_get_all(
            admin, share['instance']['id'])[0]
        pg.share_instance_access_update(admin, mapping['access_id'],
                                        share['instance']['id'],
                                        {'state': 'queued_to_deny'})
    for share in snaps + denies:            # as upstream's API does
        pg.share_instance_access_rules_status_update(
            admin, share['instance']['id'], ['active'], 'syncing')
    for share in deletes:
        rows.set_status(pg, share['id'], 'deleting')
    for share in extends:
        rows.set_status(pg, share['id'], 'extending')
    for snap in old_snaps:
        pg.share_snapshot_instance_update(admin, snap['instance']['id'],
                                          {'status': 'deleting'})
    casts = [
        [lambda s=s: share_rpc.create_share_instance(
            ctx, s['instance'], daemon.pool_host(), {}, {}) for s in new],
        [lambda s=s: share_rpc.delete_share_instance(ctx, s['instance'])
         for s in deletes],
        [lambda s=s: share_rpc.extend_share(ctx, s, 2, []) for s in extends],
        [lambda s=s, n=n: share_rpc.create_snapshot(ctx, s, n)
         for s, n in new_snaps],
        [lambda n=n: share_rpc.delete_snapshot(ctx, n, daemon.pool_host())
         for n in old_snaps],
        [lambda s=s: share_rpc.update_access(ctx, s['instance'])
         for s in snaps + denies],
    ]
    # Interleaved, so every kind of operation is among those in flight.
    for batch in itertools.zip_longest(*casts):
        for cast in filter(None, batch):
            cast()
    return new


def _transitional(daemon):
    """Rows still in a transitional state: {table: count}."""
    db = daemon.db
    counts = {
        'share_instances': db.scalar(
            "SELECT count(*) FROM share_instances WHERE deleted = 'False' "
            "AND status IN :s", s=SHARE_TRANSITIONAL),
        'share_snapshot_instances': db.scalar(
            "SELECT count(*) FROM share_snapshot_instances WHERE deleted = "
            "'False' AND status IN :s", s=SNAPSHOT_TRANSITIONAL),
        'share_instance_access_map': db.scalar(
            "SELECT count(*) FROM share_instance_access_map WHERE deleted = "
            "'False' AND state IN :s", s=RULE_TRANSITIONAL),
    }
    return {k: v for k, v in counts.items() if v}


def _wait_settled(daemon):
    """Wait (bounded) until no row is transitional; fail naming the rows left."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    left = _transitional(daemon)
    while left and time.monotonic() < deadline:
        assert daemon.running, daemon.diagnostics()
        time.sleep(0.5)
        left = _transitional(daemon)
    if left:
        stranded = daemon.db.rows(
            "SELECT id, status, host, created_at, updated_at, now() AS now "
            "FROM share_instances WHERE deleted = 'False' "
            "AND status IN :s", s=SHARE_TRANSITIONAL)
        stranded += daemon.db.rows(
            "SELECT id, status FROM share_snapshot_instances WHERE deleted = "
            "'False' AND status IN :s", s=SNAPSHOT_TRANSITIONAL)
        stranded += daemon.db.rows(
            "SELECT id, state FROM share_instance_access_map WHERE deleted "
            "= 'False' AND state IN :s", s=RULE_TRANSITIONAL)
        os.kill(daemon.pid, signal.SIGUSR2)     # Guru Meditation: stacks
        time.sleep(2)
        problems = [line for line in daemon.log_text().splitlines()
                    if ' ERROR ' in line or ' WARNING ' in line
                    or stranded[0]['id'] in line]
        raise AssertionError(
            'rows left transitional after %.0f s: %r\n%s\n%s'
            % (SETTLE_TIMEOUT, stranded, '\n'.join(problems[-40:]),
               fixtures.tail(daemon.output_path, 400)))


def _kill_mid_storm(daemon, new):
    """SIGKILL once a few of the new shares are available; return what was in flight."""
    ids = [s['instance']['id'] for s in new]

    def some_done():
        return daemon.db.scalar(
            "SELECT count(*) FROM share_instances WHERE id IN :i AND "
            "status = 'available'", i=tuple(ids)) >= 5
    daemon.wait_for(some_done, timeout=60, interval=0.02,
                    message='first new shares available')
    daemon.kill()
    return _transitional(daemon)


def _check_shares(daemon, pool):
    """Live rows and share directories agree; deleted rows left nothing behind."""
    db = daemon.db
    live = db.rows("SELECT i.id, i.status, s.size FROM share_instances i "
                   "JOIN shares s ON s.id = i.share_id "
                   "WHERE i.deleted = 'False'")
    gone = [r['id'] for r in db.rows(
        "SELECT id FROM share_instances WHERE deleted != 'False'")]
    dirs = set(os.listdir(pool)) - {'.localfs'}
    for row in live:
        assert row['status'] in ('available', 'extending_error'), row
        assert 'share-%s' % row['id'] in dirs, row
        assert _private(daemon, row['id'], 'path') == os.path.join(
            pool, 'share-%s' % row['id'])
        recorded = int(_private(daemon, row['id'], 'size'))
        if row['status'] == 'available':
            assert recorded == row['size'], (row, recorded)
        else:       # extend interrupted: upstream's extending_error
            assert recorded in (row['size'], row['size'] + 1), row
    for instance_id in gone:
        assert 'share-%s' % instance_id not in dirs
        assert _private(daemon, instance_id, 'path') is None
    assert dirs == {'share-%s' % r['id'] for r in live}
    return live


def _check_snapshots(daemon, pool):
    db = daemon.db
    live = db.rows("SELECT id, status, provider_location FROM "
                   "share_snapshot_instances WHERE deleted = 'False'")
    assert [r for r in live if r['status'] != 'available'] == []
    on_disk = set(os.listdir(os.path.join(pool, '.localfs', 'snapshots')))
    assert on_disk == {'share-snapshot-%s' % r['id'] for r in live}
    for row in live:
        assert os.path.isdir(row['provider_location'])
    for row in db.rows("SELECT id FROM share_snapshot_instances WHERE "
                       "deleted != 'False'"):
        assert _private(daemon, row['id'], 'path') is None
    return live


def _check_access(daemon, pool):
    """The exports file holds exactly the active rules."""
    mappings = daemon.db.rows(
        "SELECT m.share_instance_id, m.state, m.deleted, a.access_to "
        "FROM share_instance_access_map m JOIN share_access_map a "
        "ON a.id = m.access_id")
    expected = {}
    for m in mappings:
        if m['deleted'] == 'False':
            assert m['state'] == 'active', m
            directory = os.path.join(pool, 'share-%s'
                                     % m['share_instance_id'])
            expected.setdefault(directory, {})[m['access_to']] = 'rw'
    assert _exports(daemon) == expected
    return mappings


def test_sigkill_mid_storm_then_restart_settles_everything(
        daemon_factory, fresh_db, pg_facade, share_rpc, tmp_path):
    daemon = daemon_factory(fresh_db, options=_options(tmp_path, 3600))
    base, old_snaps = _base(pg_facade, daemon, share_rpc)
    new = _storm(pg_facade, daemon, share_rpc, base, old_snaps)
    in_flight = _kill_mid_storm(daemon, new)
    # The crash landed in the middle: work was left half done.
    assert in_flight.get('share_instances'), in_flight

    daemon.configure(_options(tmp_path, 2))
    time.sleep(2)       # the stranded rows outlive the short timeout
    daemon.start()
    _wait_settled(daemon)

    pool = _pool(tmp_path)
    live = _check_shares(daemon, pool)
    statuses = {r['id']: r['status'] for r in live}
    assert all(statuses[s['instance']['id']] == 'available' for s in new)
    for share in base[:GROUP]:              # deleted
        assert share['instance']['id'] not in statuses
    for share in base[GROUP:2 * GROUP]:     # extended, or failed visibly
        assert statuses[share['instance']['id']] in ('available',
                                                     'extending_error')
    snaps = _check_snapshots(daemon, pool)
    assert {s['id'] for s in snaps}.isdisjoint(
        s['instance']['id'] for s in old_snaps)
    assert len(snaps) == GROUP              # the new ones, all available
    mappings = _check_access(daemon, pool)
    live_rules = {(m['share_instance_id'], m['access_to'])
                  for m in mappings if m['deleted'] == 'False'}
    assert live_rules == {(s['instance']['id'], '10.8.0.0/24')
                          for s in base[2 * GROUP:3 * GROUP]}
    assert daemon.running
