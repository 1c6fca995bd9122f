"""connection_get_info and transfer_accept calls and the update_share_from_metadata cast through the real daemon."""

import pytest

from tests.functional import share_rows as rows

pytestmark = pytest.mark.functional


def _rule(pg, share):
    return pg.share_access_create(rows.admin_ctx(), {
        'share_id': share['id'], 'access_type': 'ip',
        'access_to': '10.9.9.9', 'access_level': 'rw', 'state': 'active'})


def test_calls_and_metadata_cast(fresh_db, pg_facade,
                                 daemon_factory, share_rpc):
    daemon = daemon_factory(fresh_db, options={
        'DEFAULT': {'driver_updatable_metadata': 'snapdir'}})
    ctx = rows.user_ctx()
    share = rows.available_share(pg_facade, daemon, share_rpc)
    inst = share['instance']

    info = share_rpc.connection_get_info(ctx, inst)
    assert info['access_mapping'] == {'ip': ['nfs']}
    assert info['mount'].startswith('mount -vt nfs %(options)s 11.0.0.11:')
    assert info['unmount'] == 'umount -v %(path)s'

    rule = _rule(pg_facade, share)
    assert share_rpc.transfer_accept(ctx, share, 'u2', 'p2') is None
    assert daemon.db.scalar('SELECT deleted FROM share_access_map WHERE '
                            'id = :i', i=rule['id']) == 'False'
    share_rpc.transfer_accept(ctx, share, 'u2', 'p2', clear_rules=True)
    assert daemon.db.scalar('SELECT deleted FROM share_access_map WHERE '
                            'id = :i', i=rule['id']) == rule['id']
    # the API moves ownership; the share service leaves the rows alone
    assert rows.share_row(daemon, share['id'])['project_id'] == 'p1'
    assert rows.instance(daemon, share['id'])['status'] == 'available'

    share_rpc.update_share_from_metadata(ctx, share,
                                         {'snapdir': 'true', 'x': 'y'})
    daemon.wait_for(lambda: rows.messages(daemon, share['id']), timeout=30,
                    message='metadata update message')
    assert rows.messages(daemon, share['id']) == [
        ('027', '029', 'SHARE', 'p1')]


def test_driver_failures(fresh_db, pg_facade,
                         daemon_factory, share_rpc):
    daemon = daemon_factory(fresh_db, options={
        'DEFAULT': {'driver_updatable_metadata': 'snapdir'},
        'alpha': {'dummy_driver_fail_methods':
                  'connection_get_info,transfer_accept,'
                  'update_share_from_metadata'}})
    ctx = rows.user_ctx()
    share = rows.available_share(pg_facade, daemon, share_rpc)

    with pytest.raises(Exception) as excinfo:
        share_rpc.connection_get_info(ctx, share['instance'])
    assert 'ShareBackendException' in type(excinfo.value).__name__ + str(
        excinfo.value)
    with pytest.raises(Exception) as excinfo:
        share_rpc.transfer_accept(ctx, share, 'u2', 'p2')
    assert 'injected failure of transfer_accept' in str(excinfo.value)
    assert rows.messages(daemon, share['id']) == []

    share_rpc.update_share_from_metadata(ctx, share, {'snapdir': 'true'})
    daemon.wait_for(lambda: rows.messages(daemon, share['id']), timeout=30,
                    message='metadata update message')
    assert rows.messages(daemon, share['id']) == [
        ('027', '030', 'SHARE', 'p1')]
    assert rows.instance(daemon, share['id'])['status'] == 'available'
    assert daemon.running
