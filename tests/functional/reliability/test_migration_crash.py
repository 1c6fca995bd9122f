"""A daemon killed mid migration start and mid completion leaves, once restarted, no migration stranded.

A start ends with the share usable at its source (its snapshot too); a
completion with both instances and both snapshot instances ``error`` for
an administrator (upstream's completion failure).
"""

import pytest

from tests.functional import share_rows as rows
from tests.functional import test_migration as tm

pytestmark = pytest.mark.functional

SLOW = 'migration_start:60,migration_complete:60'


def test_kill_during_migration(fresh_db, pg_facade, daemon_factory,
                               share_rpc):
    pg = pg_facade
    daemon = tm._reconciling_daemon(fresh_db, daemon_factory)
    starting = tm._available(pg, daemon, share_rpc)
    completing = tm._available(pg, daemon, share_rpc)
    snaps = {share['id']: tm._snapshot(pg, daemon, share_rpc, share)
             for share in (starting, completing)}
    tm._migrate(pg, daemon, share_rpc, completing, preserve_snapshots=True)
    tm._wait_task(daemon, completing['id'], 'migration_driver_phase1_done')
    dest = tm._live(daemon, completing['id'])['migrating_to']
    daemon.stop()
    daemon.configure({'alpha': {'dummy_driver_driver_methods_delays': SLOW}})
    daemon.start()
    tm._migrate(pg, daemon, share_rpc, starting, preserve_snapshots=True)
    share_rpc.migration_complete(rows.user_ctx(), completing['instance'],
                                 dest['id'])
    tm._wait_task(daemon, starting['id'], 'migration_driver_starting')
    tm._wait_task(daemon, completing['id'], 'migration_completing')
    daemon.kill()

    daemon.configure({'alpha': {'dummy_driver_driver_methods_delays': ''}})
    daemon.start()
    tm._wait_task(daemon, starting['id'], 'migration_error', timeout=90)
    assert list(tm._live(daemon, starting['id'])) == ['available']
    assert [m[0] for m in rows.messages(daemon, starting['id'])] == ['005']
    assert tm.snapshot_statuses(daemon, snaps[starting['id']]['id']) == [
        'available']
    tm._wait_task(daemon, completing['id'], 'migration_error', timeout=90)
    assert set(tm._live(daemon, completing['id'])) == {'error'}
    statuses = sorted(r['status'] for r in daemon.db.rows(
        "SELECT status FROM share_instances WHERE share_id = :s AND "
        "deleted = 'False'", s=completing['id']))
    assert statuses == ['error', 'error']
    assert tm.snapshot_statuses(daemon, snaps[completing['id']]['id']) == [
        'error', 'error']
