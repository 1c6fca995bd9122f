"""Host-assisted migration of a localfs share between two localfs backends, by upstream's share API and upstream's manila-data.

The data service runs on this machine and bind-mounts both share
directories (manila 23.0.1 from the upstream venv).
"""

import os

import pytest

from tests.functional import data_service as data_service_module
from tests.functional import fixtures
from tests.functional.interop import conftest

pytestmark = pytest.mark.functional


def _localfs(name, pool):
    return {'share_driver': 'localfs', 'share_backend_name': name,
            'driver_handles_share_servers': False, 'localfs_pools': pool,
            'localfs_export_ips': '127.0.0.1'}


@pytest.fixture(scope='module')
def pools(tmp_path_factory):
    root = tmp_path_factory.mktemp('hostmig-pools')
    return {name: str(root / ('%s-pool' % name)) for name in ('alpha', 'beta')}


@pytest.fixture(scope='module')
def hostmig_stack(upstream_module, module_db, rabbitmq, tmp_path_factory,
                  pools):
    options = {'DEFAULT': {'enabled_share_backends': 'alpha,beta',
                           'migration_create_delete_share_timeout': 60},
               'alpha': _localfs('alpha', pools['alpha']),
               'beta': _localfs('beta', pools['beta'])}
    yield from conftest.upstream_schema_daemon(
        upstream_module, module_db, rabbitmq,
        tmp_path_factory.mktemp('interop-hostmig'), options)


@pytest.fixture(scope='module')
def data_service(upstream_python, module_db, rabbitmq, hostmig_stack,
                 tmp_path_factory):
    """Upstream's manila-data on our database and broker; stopped (and its mounts undone) afterwards."""
    with data_service_module.running(
            upstream_python, module_db, rabbitmq.url,
            tmp_path_factory.mktemp('manila-data'), hostmig_stack.db) as ds:
        yield ds


def test_host_assisted_migration_by_upstream_data_service(
        upstream_module, module_db, hostmig_stack, data_service, pools):
    seen = upstream_module(
        'migration_host_flow.py', '--connection', module_db,
        '--src-host', hostmig_stack.pool_host('alpha', 'alpha-pool'),
        '--dest-host', hostmig_stack.pool_host('beta', 'beta-pool'),
        '--src-pool', pools['alpha'], timeout=300)
    log = fixtures.tail(data_service['log'], 80)
    assert seen['created'] == 'available', seen
    assert seen['copied'] == 'data_copying_completed', (seen, log)
    assert seen['instances_during'] == ['migrating', 'migrating_to'], seen
    assert seen['completed'] == 'migration_success', (seen, log)
    [(dest_id, status, host)] = seen['instances_after']
    assert (status, host) == (
        'available', hostmig_stack.pool_host('beta', 'beta-pool')), seen
    dest_dir = os.path.join(pools['beta'], 'share-%s' % dest_id)
    with open(os.path.join(dest_dir, 'kept.txt')) as f:
        assert f.read() == seen['content']
    assert not os.path.exists(os.path.join(
        pools['alpha'], 'share-%s' % seen['src_instance']))
    assert all(dest_dir in path for path in seen['export_locations']), seen
    # the data service's mount points are unmounted and removed
    assert os.listdir(data_service['mounts']) == []
