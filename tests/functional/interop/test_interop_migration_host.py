"""Host-assisted migration of a localfs share between two localfs backends, by upstream's share API and upstream's manila-data.

The data service runs on this machine and bind-mounts both share
directories (manila 23.0.1 from the upstream venv).
"""

import os
import subprocess
import time

import pytest

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


def _write_conf(path, lines):
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


@pytest.fixture(scope='module')
def data_service(upstream_python, module_db, rabbitmq, hostmig_stack,
                 tmp_path_factory):
    """Upstream's manila-data from the upstream venv, on our database and broker; stopped (and its mounts undone) afterwards."""
    workdir = tmp_path_factory.mktemp('manila-data')
    mounts = workdir / 'mnt'
    mounts.mkdir()
    conf = str(workdir / 'manila-data.conf')
    log = str(workdir / 'manila-data.log')
    _write_conf(conf, [
        '[DEFAULT]', 'host = interop-data',
        'transport_url = %s' % rabbitmq.url,
        'state_path = %s' % workdir, 'log_file = %s' % log, 'debug = True',
        'report_interval = 1', 'data_node_access_ips = 127.0.0.1',
        'mount_tmp_location = %s/' % mounts,
        'data_access_wait_access_rules_timeout = 60',
        '[database]', 'connection = %s' % module_db,
        '[oslo_concurrency]', 'lock_path = %s' % (workdir / 'locks')])
    binary = os.path.join(os.path.dirname(upstream_python), 'manila-data')
    proc = subprocess.Popen(
        [binary, '--config-file', conf], stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT, start_new_session=True,
        env=dict(os.environ, PYTHONWARNINGS='ignore::DeprecationWarning'))
    db = hostmig_stack.db
    try:
        fixtures.wait_for(
            lambda: proc.poll() is not None or db.scalar(
                "SELECT count(*) FROM services WHERE "
                '"binary" = \'manila-data\' AND deleted = 0') > 0,
            timeout=60, message='upstream manila-data never registered')
        assert proc.poll() is None, 'manila-data exited:\n%s' % (
            fixtures.tail(log))
        time.sleep(1)       # its RPC consumer starts after the row
        yield {'log': log, 'mounts': str(mounts)}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for entry in os.listdir(mounts):
            subprocess.run(['umount', os.path.join(mounts, entry)],
                           capture_output=True)


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
