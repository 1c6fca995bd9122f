"""Driver-assisted share migration between two of our backends driven by upstream manila 23.0.1's own share API."""

import pytest

from tests.functional.interop import conftest

pytestmark = pytest.mark.functional


@pytest.fixture(scope='module')
def migration_stack(upstream_module, module_db, rabbitmq, tmp_path_factory):
    backend = {'share_driver': 'dummy', 'driver_handles_share_servers': False}
    options = {'DEFAULT': {'enabled_share_backends': 'alpha,beta',
                           'migration_driver_continue_update_interval': 1},
               'alpha': dict(backend, share_backend_name='alpha'),
               'beta': dict(backend, share_backend_name='beta')}
    yield from conftest.upstream_schema_daemon(
        upstream_module, module_db, rabbitmq,
        tmp_path_factory.mktemp('interop-mig'), options)


def test_driver_assisted_migration_driven_by_upstream(
        upstream_module, module_db, migration_stack):
    source = migration_stack.pool_host('alpha')
    dest = migration_stack.pool_host('beta')
    options = migration_stack.options
    seen = upstream_module(
        'migration_flow.py', '--connection', module_db,
        '--source', source, '--dest', dest,
        '--state-path', options['DEFAULT']['state_path'],
        '--lock-path', options['oslo_concurrency']['lock_path'])
    assert (seen['created'], seen['access']) == ('available', 'active'), seen
    # Phase 1, as the API reported it: the dummy moves 50% per continue.
    assert seen['phase1'] == 'migration_driver_phase1_done', seen
    assert set(seen['progress_seen']) <= {0, 50, 100}, seen
    assert 100 in seen['progress_seen'], seen
    assert seen['phase1_instances'] == [['migrating', source],
                                        ['migrating_to', dest]], seen
    # Our InvalidShare reaches upstream's client as its own InvalidShare.
    assert seen['driver_progress_after_phase1'] == \
        'InvalidShare from manila.exception_Remote', seen
    # Complete: the share lives on beta alone, its rule and exports moved.
    assert seen['completed'] == 'migration_success', seen
    assert seen['after'] == ['available', dest], seen
    assert seen['after_instances'] == [['available', dest]], seen
    assert seen['exports'] > 0
    assert seen['rules'] == [['10.0.0.7', 'active']], seen
    assert seen['progress_after'] == {'total_progress': 100}
    # Cancel after phase 1: the share stays on alpha, the destination gone.
    assert seen['cancelled'] == 'migration_cancelled', seen
    assert seen['cancelled_share'] == ['available', source], seen
    assert seen['cancelled_instances'] == [['available', source]], seen
    assert (seen['usages_in_use']['shares'],
            seen['usages_in_use']['gigabytes']) == (2, 2), seen
    assert seen['deleted'] == ['gone', 'gone']
    assert seen['usages_after'] == {}, seen
