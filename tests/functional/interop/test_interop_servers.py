"""Share servers of a DHSS=True backend driven by upstream manila 23.0.1's own share API, served by our daemon with the standalone network plugin."""

import pytest

from tests.functional.interop import conftest
from tests.functional import test_share_servers

pytestmark = pytest.mark.functional


@pytest.fixture(scope='module')
def servers_stack(upstream_module, module_db, rabbitmq, tmp_path_factory):
    options = {'DEFAULT': {'enabled_share_backends': 'alpha'},
               'alpha': test_share_servers.backend_options(
                   'alpha', '10.254.0.10', '10.254.0.99')}
    yield from conftest.upstream_schema_daemon(
        upstream_module, module_db, rabbitmq,
        tmp_path_factory.mktemp('interop-srv'), options)


def test_share_servers_driven_by_upstream(upstream_module, module_db,
                                          servers_stack):
    options = servers_stack.options
    seen = upstream_module(
        'servers_flow.py', '--connection', module_db,
        '--host', servers_stack.pool_host('alpha'),
        '--state-path', options['DEFAULT']['state_path'],
        '--lock-path', options['oslo_concurrency']['lock_path'])
    assert (seen['first'], seen['server'], seen['second']) == (
        'available', 'active', 'available'), seen
    assert seen['server_subnets'] == [seen['subnet_id']]
    assert seen['allocations'] == [['admin', '10.254.0.12', 4],
                                   ['user', '10.254.0.10', 4],
                                   ['user', '10.254.0.11', 4]], seen
    assert seen['subnet'] == ['10.254.0.0/24', '10.254.0.1', 1500]
    assert seen['same_server'] is True
    assert (seen['snapshot'], seen['access'], seen['extended']) == (
        'available', 'active', 2), seen
    in_use = seen['usages_in_use']
    assert (in_use['shares'], in_use['gigabytes'], in_use['snapshots'],
            in_use['snapshot_gigabytes']) == (2, 3, 1, 1), seen
    assert seen['snapshot_deleted'] == 'gone'
    assert (seen['ss_check'], seen['ss_network'], seen['ss_server'],
            seen['ss_details']) == (True, 'active', 'active', True), seen
    assert seen['in_use_refused'] is True
    assert seen['shares_deleted'] == ['gone', 'gone']
    assert (seen['unmanaged'], seen['allocations_unmanaged']) == (
        'gone', []), seen
    assert seen['managed'] == 'active', seen
    assert seen['managed_identifier_is_old_id'] is True
    assert seen['managed_same_addresses'] is True
    assert seen['server_deleted'] == 'gone', seen
    assert seen['allocations_after'] == []
    assert seen['usages_after'] == {}, seen


@pytest.fixture(scope='module')
def migration_stack(upstream_module, module_db, rabbitmq, tmp_path_factory):
    options = {'DEFAULT': {
        'enabled_share_backends': 'alpha,beta',
        'server_migration_driver_continue_update_interval': 1},
        'alpha': test_share_servers.backend_options(
            'alpha', '10.254.0.10', '10.254.0.99'),
        'beta': test_share_servers.backend_options(
            'beta', '10.254.0.100', '10.254.0.199')}
    yield from conftest.upstream_schema_daemon(
        upstream_module, module_db, rabbitmq,
        tmp_path_factory.mktemp('interop-srvmig'), options)


def test_share_server_migration_driven_by_upstream(upstream_module,
                                                   module_db,
                                                   migration_stack):
    options = migration_stack.options
    dest = migration_stack.pool_host('beta').split('#')[0]
    seen = upstream_module(
        'server_migration_flow.py', '--connection', module_db,
        '--source', migration_stack.pool_host('alpha'), '--dest', dest,
        '--state-path', options['DEFAULT']['state_path'],
        '--lock-path', options['oslo_concurrency']['lock_path'])
    assert (seen['share'], seen['check'], seen['phase1']) == (
        'available', True, 'migration_driver_phase1_done'), seen
    assert seen['progress'] == 100, seen
    assert seen['dest_is_answered'] is True
    assert (seen['dest'], seen['dest_task']) == (
        'active', 'migration_success'), seen
    assert seen['moved'] == ['available', True, dest], seen
    assert seen['source'] == 'gone', seen
