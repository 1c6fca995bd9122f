"""The share manager on the localfs driver (SQLite).

Real directories behind created shares, errors as upstream statuses and user
messages, start-up heal of the exports file.
"""

import os
import subprocess

import oslo_messaging as messaging
import pytest

from manila_lite.common import constants as c
from tests.unit.share import helpers

HOST = 'hostA@alpha#alpha'


@pytest.fixture
def localfs_manager(manager_factory, tmp_path):
    def build(**options):
        values = {'share_driver': 'localfs',
                  'localfs_pools': [str(tmp_path / 'pools' / 'alpha')],
                  'localfs_export_ips': ['127.0.0.1']}
        values.update(options)
        return manager_factory(**values)
    return build


def _paths(db, ctx, instance_id):
    return [el['path'] for el in
            db.export_location_get_all_by_share_instance_id(ctx,
                                                            instance_id)]


def test_create_and_delete_through_the_manager(localfs_manager, db,
                                               admin_ctx, tmp_path):
    mgr = localfs_manager()
    share, inst = helpers.make_share(db, admin_ctx, host=HOST, size=1)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    got = db.share_instance_get(admin_ctx, inst['id'], with_share_data=True)
    assert got['status'] == c.STATUS_AVAILABLE
    directory = str(tmp_path / 'pools' / 'alpha' / got['name'])
    assert _paths(db, admin_ctx, inst['id']) == ['127.0.0.1:%s' % directory]
    assert os.path.isdir(directory)
    with open(os.path.join(directory, 'data'), 'w') as f:
        f.write('hello')
    db.share_instance_update(admin_ctx, inst['id'],
                             {'status': c.STATUS_DELETING})
    mgr.delete_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    assert not os.path.exists(directory)
    assert os.listdir(tmp_path / 'pools' / 'alpha') == ['.localfs']


def test_permission_error_ends_in_error_with_user_message(
        localfs_manager, db, admin_ctx, tmp_path):
    mgr = localfs_manager()
    pool = tmp_path / 'pools' / 'alpha'
    res = subprocess.run(['chattr', '+i', str(pool)], capture_output=True)
    if res.returncode:
        pytest.skip('chattr +i not permitted here')
    try:
        share, inst = helpers.make_share(db, admin_ctx, host=HOST)
        with pytest.raises(messaging.ExpectedException) as excinfo:
            mgr.create_share_instance(helpers.user_ctx(),
                                      share_instance_id=inst['id'])
    finally:
        subprocess.run(['chattr', '-i', str(pool)])
    assert 'permission denied' in str(excinfo.value.exc_info[1])
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == 'error'
    msgs = [m for m in db.message_get_all(admin_ctx)
            if m['resource_id'] == share['id']]
    assert [(m['action_id'], m['detail_id']) for m in msgs] == [('002',
                                                                 '001')]


@pytest.mark.parametrize('path', ['10.0.0.1:/not a uuid', 'not a path',
                                  '//10.0.0.1/not a uuid'])
def test_manage_invalid_export_path(localfs_manager, db, admin_ctx, path):
    mgr = localfs_manager()
    share, inst = helpers.make_share(db, admin_ctx, host=HOST,
                                     status=c.STATUS_MANAGING, size=None)
    db.export_locations_update(admin_ctx, inst['id'], [path])
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.manage_share(helpers.user_ctx(), share_id=share['id'],
                         driver_options={})
    assert excinfo.value.exc_info[0].__name__ == 'ManageInvalidShare'
    got = db.share_instance_get(admin_ctx, inst['id'], with_share_data=True)
    assert (got['status'], got['size']) == (c.STATUS_MANAGE_ERROR, 0)
    assert helpers.messages(db, admin_ctx, share['id'], 'action_id',
                            'detail_id') == [('002', '001')]


def test_restart_heals_the_exports_file(localfs_manager, db, admin_ctx):
    mgr = localfs_manager()
    share, inst = helpers.make_share(db, admin_ctx, host=HOST)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    got = db.share_instance_get(admin_ctx, inst['id'], with_share_data=True)
    access = {'access_id': 'a1', 'access_type': 'ip',
              'access_to': '10.0.0.1', 'access_level': 'rw'}
    mgr.driver.update_access(admin_ctx, got.to_dict(), [access], [], [])
    exports_file = mgr.driver._exports_file
    with open(exports_file) as f:
        expected = f.read()
    assert '10.0.0.1(rw' in expected
    os.unlink(exports_file)
    again = localfs_manager()            # the service starts again
    with open(again.driver._exports_file) as f:
        assert f.read() == expected
    with open(exports_file, 'w') as f:
        f.write('# edited by hand\n')
    again.ensure_driver_resources(helpers.user_ctx(), skip_backend_info_check=True)
    with open(exports_file) as f:
        assert f.read() == expected
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        c.STATUS_AVAILABLE
