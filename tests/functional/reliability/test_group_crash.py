"""Share groups and group snapshots left in creating/deleting when the daemon died are settled at start (localfs, RabbitMQ, PostgreSQL)."""

import os
import time

import pytest

from manila_lite import context as ml_context
from tests.functional import share_rows as rows
from tests.unit.share import helpers

pytestmark = pytest.mark.functional

ADMIN = ml_context.get_admin_context()


def _options(tmp_path, timeout):
    return {'DEFAULT': {'transitional_state_timeout': timeout,
                        'transitional_state_check_interval': 1},
            'alpha': {'share_driver': 'localfs',
                      'localfs_pools': str(tmp_path / 'alpha'),
                      'localfs_export_ips': '127.0.0.1',
                      'localfs_enabled_share_protocols': 'NFS',
                      'localfs_apply_samba_config': False}}


def _transitional(daemon):
    db = daemon.db
    return {
        'share_groups': db.scalar(
            "SELECT count(*) FROM share_groups WHERE deleted = 'False' AND "
            "status IN ('creating', 'deleting')"),
        'share_group_snapshots': db.scalar(
            "SELECT count(*) FROM share_group_snapshots WHERE deleted = "
            "'False' AND status IN ('creating', 'deleting')"),
        'members': db.scalar(
            "SELECT count(*) FROM share_snapshot_instances WHERE deleted = "
            "'False' AND share_group_snapshot_id IS NOT NULL AND status IN "
            "('creating', 'deleting')"),
    }


def test_groups_stranded_by_a_crash_are_settled_at_start(
        daemon_factory, fresh_db, pg_facade, share_rpc, tmp_path):
    daemon = daemon_factory(fresh_db, options=_options(tmp_path, 3600))
    host = daemon.pool_host()
    group_id, _ = helpers.make_group(pg_facade, ADMIN, host=host)
    share_rpc.create_share_group(rows.user_ctx(), {'id': group_id}, host)
    shares = []
    for _ in range(2):
        _share, inst = helpers.make_share(pg_facade, ADMIN, host=host,
                                          share_group_id=group_id)
        share_rpc.create_share_instance(rows.user_ctx(), inst, host, {}, {})
        shares.append(inst)
    daemon.wait_for(lambda: daemon.db.scalar(
        "SELECT count(*) FROM share_instances WHERE status = 'available' "
        "AND id IN :i", i=tuple(s['id'] for s in shares)) == 2, timeout=60)
    # The daemon dies; the API had accepted more group work meanwhile.
    daemon.kill()
    taken = helpers.make_group_snapshot(pg_facade, ADMIN, group_id)
    creating, _ = helpers.make_group(pg_facade, ADMIN, host=host)
    doomed, _ = helpers.make_group(pg_facade, ADMIN, host=host,
                                   status='deleting')
    assert all(_transitional(daemon).values())
    daemon.configure(_options(tmp_path, 2))
    time.sleep(2)       # the stranded rows outlive the short timeout
    daemon.start()
    daemon.wait_for(lambda: not any(_transitional(daemon).values()),
                    timeout=120, message='group rows left transitional')
    assert rows.messages(daemon, taken) == []
    status = daemon.db.scalar
    assert status('SELECT status FROM share_group_snapshots WHERE id = :i',
                  i=taken) == 'available'
    assert status('SELECT status FROM share_groups WHERE id = :i',
                  i=creating) == 'available'
    assert status('SELECT deleted FROM share_groups WHERE id = :i',
                  i=doomed) == doomed
    snapshots = os.listdir(str(tmp_path / 'alpha' / '.localfs' / 'snapshots'))
    assert len(snapshots) == 2, snapshots
