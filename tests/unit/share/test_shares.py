"""transfer_accept, update_share_from_metadata and connection_get_info through the ShareManager on SQLite."""

from oslo_config import cfg
import oslo_messaging as messaging
import pytest

from manila_lite.common import constants as c
from manila_lite import exception
from tests.unit.share import helpers

CONF = cfg.CONF


def _messages(db, ctx, resource_id):
    return helpers.messages(db, ctx, resource_id, 'action_id', 'detail_id', 'resource_type',
                            'project_id')


def _available_share(mgr, db, ctx):
    share, inst = helpers.make_share(db, ctx)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    return share, db.share_instance_get(ctx, inst['id'], with_share_data=True)


def _spy(monkeypatch, driver, name):
    """Record the calls of a driver method and let them through."""
    calls = []
    real = getattr(driver, name)

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)
    monkeypatch.setattr(driver, name, spy)
    return calls


def _active_rule(db, ctx, share, access_to='10.1.1.1'):
    return db.share_access_create(ctx, {
        'share_id': share['id'], 'access_type': 'ip', 'access_to': access_to,
        'access_level': 'rw', 'state': c.ACCESS_STATE_ACTIVE})


# -- connection_get_info ----------------------------------------------------

def test_connection_get_info(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    _share, inst = _available_share(mgr, db, admin_ctx)
    info = mgr.connection_get_info(helpers.user_ctx(), share_instance_id=inst['id'])
    assert info['access_mapping'] == {'ip': ['nfs']}
    assert info['unmount'] == 'umount -v %(path)s'
    admin_path = [el['path'] for el in inst['export_locations']
                  if el['is_admin_only']][0]
    assert info['mount'] == ('mount -vt nfs %(options)s ' + admin_path +
                             ' %(path)s')


@pytest.mark.parametrize('fault', [
    {'dummy_driver_fail_methods': ['connection_get_info']},
    {'dummy_driver_invalid_return_methods': ['connection_get_info']},
])
def test_connection_get_info_driver_failure(manager_factory, db, admin_ctx,
                                            fault):
    mgr = manager_factory(**fault)
    _share, inst = _available_share(mgr, db, admin_ctx)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.connection_get_info(helpers.user_ctx(), share_instance_id=inst['id'])
    assert isinstance(helpers.unwrap(excinfo), exception.ShareBackendException)
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        c.STATUS_AVAILABLE


def test_connection_get_info_bad_input(manager_factory):
    mgr = manager_factory()
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.connection_get_info(helpers.user_ctx(), share_instance_id='nope')
    assert isinstance(helpers.unwrap(excinfo), exception.ShareInstanceNotFound)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.connection_get_info(helpers.user_ctx(), share_instance_id=7)
    assert isinstance(helpers.unwrap(excinfo), exception.InvalidInput)


# -- transfer_accept --------------------------------------------------------

def test_transfer_accept_passes_rules(manager_factory, db, admin_ctx,
                                      monkeypatch):
    mgr = manager_factory()
    share, inst = _available_share(mgr, db, admin_ctx)
    rule = _active_rule(db, admin_ctx, share)
    calls = _spy(monkeypatch, mgr.driver, 'transfer_accept')
    mgr.transfer_accept(helpers.user_ctx('p2', 'u2'), share_id=share['id'],
                        new_user='u2', new_project='p2', clear_rules=False)
    (args, kwargs), = calls
    assert args[1]['id'] == inst['id'] and args[2:] == ('u2', 'p2')
    assert [r['id'] for r in kwargs['access_rules']] == [rule['id']]
    assert kwargs['share_server'] is None
    assert db.share_access_get(admin_ctx, rule['id'])['access_to'] == \
        '10.1.1.1'
    # the API moves the rows; the share service changes no status
    got = db.share_get(admin_ctx, share['id'])
    assert (got['project_id'], got['status']) == ('p1', c.STATUS_AVAILABLE)


def test_transfer_accept_clears_rules(manager_factory, db, admin_ctx,
                                      monkeypatch):
    mgr = manager_factory()
    share, _inst = _available_share(mgr, db, admin_ctx)
    rule = _active_rule(db, admin_ctx, share)
    calls = _spy(monkeypatch, mgr.driver, 'transfer_accept')
    mgr.transfer_accept(helpers.user_ctx('p2', 'u2'), share_id=share['id'],
                        new_user='u2', new_project='p2', clear_rules=True)
    assert calls[0][1]['access_rules'] == []
    with pytest.raises(exception.AccessRuleNotFound):
        db.share_access_get(admin_ctx, rule['id'])


def test_transfer_accept_driver_refuses_rules(manager_factory, db, admin_ctx,
                                              monkeypatch):
    mgr = manager_factory()
    share, _inst = _available_share(mgr, db, admin_ctx)
    _active_rule(db, admin_ctx, share)

    def refuse(*args, **kwargs):
        raise exception.DriverCannotTransferShareWithRules()
    monkeypatch.setattr(mgr.driver, 'transfer_accept', refuse)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.transfer_accept(helpers.user_ctx('p2', 'u2'), share_id=share['id'],
                            new_user='u2', new_project='p2')
    assert isinstance(helpers.unwrap(excinfo),
                      exception.DriverCannotTransferShareWithRules)
    assert _messages(db, admin_ctx, share['id']) == [
        ('026', '026', 'SHARE', 'p2')]


def test_transfer_accept_driver_failure(manager_factory, db, admin_ctx):
    mgr = manager_factory(dummy_driver_fail_methods=['transfer_accept'])
    share, _inst = _available_share(mgr, db, admin_ctx)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.transfer_accept(helpers.user_ctx('p2', 'u2'), share_id=share['id'],
                            new_user='u2', new_project='p2')
    assert isinstance(helpers.unwrap(excinfo), exception.ShareBackendException)
    assert _messages(db, admin_ctx, share['id']) == []


def test_transfer_accept_rule_removal_failure(manager_factory, db, admin_ctx,
                                              monkeypatch):
    mgr = manager_factory(dummy_driver_fail_methods=['update_access'])
    share, _inst = _available_share(mgr, db, admin_ctx)
    _active_rule(db, admin_ctx, share)
    calls = _spy(monkeypatch, mgr.driver, 'transfer_accept')
    with pytest.raises(messaging.ExpectedException):
        mgr.transfer_accept(helpers.user_ctx('p2', 'u2'), share_id=share['id'],
                            new_user='u2', new_project='p2',
                            clear_rules=True)
    assert calls == []


def test_transfer_accept_bad_input(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, _inst = _available_share(mgr, db, admin_ctx)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.transfer_accept(helpers.user_ctx(), share_id=share['id'],
                            new_user=None, new_project='p2')
    assert isinstance(helpers.unwrap(excinfo), exception.InvalidInput)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.transfer_accept(helpers.user_ctx(), share_id='nope', new_user='u2',
                            new_project='p2')
    assert isinstance(helpers.unwrap(excinfo), exception.ShareNotFound)


# -- update_share_from_metadata ---------------------------------------------

def test_update_share_from_metadata(manager_factory, db, admin_ctx,
                                    monkeypatch):
    """Every key received reaches the driver, as upstream.

    The API filters by driver_updatable_metadata, not the share service.
    """
    CONF.set_override('driver_updatable_metadata', ['snapdir'])
    try:
        mgr = manager_factory()
        share, inst = _available_share(mgr, db, admin_ctx)
        calls = _spy(monkeypatch, mgr.driver, 'update_share_from_metadata')
        mgr.update_share_from_metadata(
            helpers.user_ctx(), share_id=share['id'],
            metadata={'snapdir': 'visible', 'color': 'blue'})
    finally:
        CONF.clear_override('driver_updatable_metadata')
    (args, _kwargs), = calls
    assert args[1]['id'] == inst['id']
    assert args[2] == {'snapdir': 'visible', 'color': 'blue'}
    assert args[3] is None
    assert _messages(db, admin_ctx, share['id']) == [
        ('027', '029', 'SHARE', 'p1')]


def test_update_share_from_metadata_driver_failure(manager_factory, db,
                                                   admin_ctx):
    mgr = manager_factory(
        dummy_driver_fail_methods=['update_share_from_metadata'])
    share, inst = _available_share(mgr, db, admin_ctx)
    mgr.update_share_from_metadata(helpers.user_ctx(), share_id=share['id'],
                                   metadata={'qos': 'gold'})  # no raise
    assert _messages(db, admin_ctx, share['id']) == [
        ('027', '030', 'SHARE', 'p1')]
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        c.STATUS_AVAILABLE


def test_update_share_from_metadata_empty(manager_factory, db, admin_ctx,
                                          monkeypatch):
    """Upstream calls the driver and writes 027/029 for an empty dict too."""
    mgr = manager_factory()
    share, _inst = _available_share(mgr, db, admin_ctx)
    calls = _spy(monkeypatch, mgr.driver, 'update_share_from_metadata')
    mgr.update_share_from_metadata(helpers.user_ctx(), share_id=share['id'],
                                   metadata={})
    assert [args[2] for args, _kw in calls] == [{}]
    assert _messages(db, admin_ctx, share['id']) == [
        ('027', '029', 'SHARE', 'p1')]


def test_update_share_from_metadata_bad_input(manager_factory, db,
                                              admin_ctx):
    mgr = manager_factory()
    share, _inst = _available_share(mgr, db, admin_ctx)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.update_share_from_metadata(helpers.user_ctx(), share_id=share['id'],
                                       metadata=['snapdir'])
    assert isinstance(helpers.unwrap(excinfo), exception.InvalidInput)
    assert _messages(db, admin_ctx, share['id']) == []
