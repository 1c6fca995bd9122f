"""A host-assisted copy the data service ended silently is settled by the reconciliation: destination deleted, source usable.

Upstream's manila-data marks the copies it was running
``data_copying_error`` when it restarts, and casts nothing.
"""

import pytest

from tests.functional import share_rows as rows
from tests.functional import test_migration as tm

pytestmark = pytest.mark.functional


@pytest.mark.parametrize('left, ends_in', [
    ('data_copying_error', 'migration_error'),
    ('data_copying_cancelled', 'migration_cancelled')])
def test_copy_ended_by_a_restarted_data_service(fresh_db, pg_facade,
                                                daemon_factory, share_rpc,
                                                left, ends_in):
    pg = pg_facade
    daemon = tm._daemon(fresh_db, daemon_factory)
    daemon.stop()
    daemon.configure({'DEFAULT': {'transitional_state_timeout': 2,
                                  'transitional_state_check_interval': 1}})
    daemon.start()
    share = tm._available(pg, daemon, share_rpc)
    tm._migrate(pg, daemon, share_rpc, share,
                force_host_assisted_migration=True)
    # no data service listens: the cast is where the copy would begin
    tm._wait_task(daemon, share['id'], 'data_copying_starting')
    live = tm._live(daemon, share['id'])
    assert sorted(live) == ['migrating', 'migrating_to']
    dest_id = live['migrating_to']['id']
    daemon.db.execute('UPDATE shares SET task_state = :t WHERE id = :i',
                      t=left, i=share['id'])
    tm._wait_task(daemon, share['id'], ends_in, timeout=90)
    assert list(tm._live(daemon, share['id'])) == ['available']
    assert tm._instance(daemon, dest_id)['deleted'] != 'False'
    src = tm._instance(daemon, share['instance']['id'])
    assert (src['status'], src['cast_rules_to_readonly']) == (
        'available', False)
    expected = ['005'] if ends_in == 'migration_error' else []
    assert [m[0] for m in rows.messages(daemon, share['id'])] == expected
