"""Share groups driven by upstream manila 23.0.1's own share group API and share API, served by our daemon on localfs (dummy: test_share_groups)."""

import pytest

from tests.functional.interop import conftest

pytestmark = pytest.mark.functional


@pytest.fixture(scope='module')
def groups_stack(upstream_module, module_db, rabbitmq, tmp_path_factory):
    workdir = tmp_path_factory.mktemp('interop-groups')
    options = {'DEFAULT': {'enabled_share_backends': 'beta'},
               'beta': {'share_driver': 'localfs',
                        'share_backend_name': 'beta',
                        'driver_handles_share_servers': False,
                        'localfs_pools': str(workdir / 'beta'),
                        'localfs_export_ips': '127.0.0.1'}}
    yield from conftest.upstream_schema_daemon(
        upstream_module, module_db, rabbitmq, workdir, options)


def test_group_life_driven_by_upstream(upstream_module, module_db,
                                       groups_stack):
    seen = upstream_module('groups_flow.py', '--connection', module_db,
                           '--host', groups_stack.pool_host('beta'))
    assert seen['group'] == 'available', seen
    assert seen['consistent_snapshot_support'] == 'host'
    assert seen['shares'] == ['available', 'available']
    assert seen['group_snapshot'] == 'available'
    assert seen['members'] == ['available', 'available']
    assert seen['clone'] == 'available'
    assert seen['clone_shares'] == ['available', 'available']
    assert seen['clone_exports'] == [True, True]
    in_use = seen['usages_in_use']
    assert (in_use['shares'], in_use['share_groups'],
            in_use['share_group_snapshots']) == (4, 2, 1), seen
    assert seen['group_snapshot_deleted'] == 'gone'
    assert seen['shares_deleted'] == ['gone'] * 4
    assert seen['groups_deleted'] == ['gone', 'gone']
    left = {k: v for k, v in seen['usages_after'].items() if v}
    assert left == {}, seen['usages_after']
