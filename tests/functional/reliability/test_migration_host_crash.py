"""Unfinished host-assisted migrations are settled by the reconciliation: a copy ended silently, a completion the service died in.

Upstream's manila-data marks the copies it was running
``data_copying_error`` when it restarts, and casts nothing. A share
service killed during ``migration_complete`` gives the source back when
the cut-over was not reached and finishes the completion when it was.
"""

import pytest

from tests.functional import share_rows as rows
from tests.functional import test_migration as tm

pytestmark = pytest.mark.functional


def _copy_requested(pg, daemon, share_rpc):
    """A share whose host-assisted copy was asked for: ``(share, destination id)``."""
    share = tm._available(pg, daemon, share_rpc)
    tm._migrate(pg, daemon, share_rpc, share,
                force_host_assisted_migration=True)
    # no data service listens: the cast is where the copy would begin
    tm._wait_task(daemon, share['id'], 'data_copying_starting')
    live = tm._live(daemon, share['id'])
    assert sorted(live) == ['migrating', 'migrating_to']
    return share, live['migrating_to']['id']


@pytest.mark.parametrize('left, ends_in', [
    ('data_copying_error', 'migration_error'),
    ('data_copying_cancelled', 'migration_cancelled')])
def test_copy_ended_by_a_restarted_data_service(fresh_db, pg_facade,
                                                daemon_factory, share_rpc,
                                                left, ends_in):
    pg = pg_facade
    daemon = tm._reconciling_daemon(fresh_db, daemon_factory)
    share, dest_id = _copy_requested(pg, daemon, share_rpc)
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


@pytest.mark.parametrize('src_status, dest_status, ends_in', [
    ('migrating', 'migrating_to', 'migration_error'),
    ('inactive', 'available', 'migration_success')])
def test_share_service_killed_during_completion(fresh_db, pg_facade,
                                                daemon_factory, share_rpc,
                                                src_status, dest_status,
                                                ends_in):
    pg = pg_facade
    daemon = tm._reconciling_daemon(fresh_db, daemon_factory)
    share, dest_id = _copy_requested(pg, daemon, share_rpc)
    src_id = share['instance']['id']
    daemon.kill()
    # the rows as the completion left them when the service died
    daemon.db.execute('UPDATE shares SET task_state = :t WHERE id = :i',
                      t='migration_completing', i=share['id'])
    for inst_id, status in ((src_id, src_status), (dest_id, dest_status)):
        daemon.db.execute('UPDATE share_instances SET status = :s '
                          'WHERE id = :i', s=status, i=inst_id)
    daemon.start()
    tm._wait_task(daemon, share['id'], ends_in, timeout=90)
    if ends_in == 'migration_error':
        kept, gone = src_id, dest_id
        assert [m[0] for m in rows.messages(daemon, share['id'])] == ['005']
    else:
        kept, gone = dest_id, src_id
        assert rows.messages(daemon, share['id']) == []
    assert list(tm._live(daemon, share['id'])) == ['available']
    assert tm._live(daemon, share['id'])['available']['id'] == kept
    assert tm._instance(daemon, gone)['deleted'] != 'False'
