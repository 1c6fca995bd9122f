"""Manage and unmanage through the ShareManager on SQLite with the dummy driver: statuses, rows, quota."""

import oslo_messaging as messaging
from oslo_utils import uuidutils
import pytest

from manila_lite.common import constants as c
from manila_lite import exception
from tests.unit.share import helpers


def _usage(db, ctx, type_id):
    """{resource: in_use} for user u1 and for the share type (nonzero only)."""
    user = db.quota_usage_get_all_by_project_and_user(ctx, 'p1', 'u1')
    stype = db.quota_usage_get_all_by_project_and_share_type(ctx, 'p1',
                                                             type_id)
    return [{k: v['in_use'] for k, v in u.items()
             if isinstance(v, dict) and (v['in_use'] or v['reserved'])}
            for u in (user, stype)]


def _paths(db, ctx, inst_id):
    return [el['path'] for el in
            db.export_location_get_all_by_share_instance_id(ctx, inst_id)]


def _backend_share(mgr, db, ctx):
    """A share created on the dummy backend, then unmanaged: returns its export path."""
    share, inst = helpers.make_share(db, ctx)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    path = db.share_instance_get(ctx, inst['id'])['export_location']
    db.share_instance_update(ctx, inst['id'],
                             {'status': c.STATUS_UNMANAGING})
    mgr.unmanage_share(helpers.user_ctx(), share_id=share['id'])
    return path


def _managing_share(db, ctx, path, **extra):
    """Rows as upstream's API writes them for a manage request."""
    share, inst = helpers.make_share(db, ctx, status=c.STATUS_MANAGING,
                                     size=None, **extra)
    db.export_locations_update(ctx, inst['id'], [path])
    return share, inst


def test_manage_success(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    path = _backend_share(mgr, db, admin_ctx)
    share, inst = _managing_share(db, admin_ctx, path)
    mgr.manage_share(helpers.user_ctx(), share_id=share['id'], driver_options={})
    got = db.share_instance_get(admin_ctx, inst['id'], with_share_data=True)
    assert got['status'] == c.STATUS_AVAILABLE
    assert got['size'] == 1
    assert got['launched_at'] is not None
    assert got['availability_zone'] == 'nova'
    paths = _paths(db, admin_ctx, inst['id'])
    assert len(paths) == 3 and path not in paths[1:]
    assert all(got['id'].replace('-', '_') in p for p in paths)
    metadata = db.share_metadata_get(admin_ctx, share['id'])
    assert metadata['__managed_at'].startswith(
        str(share['created_at'])[:19])
    assert _usage(db, admin_ctx, inst['share_type_id']) == [
        {'shares': 1, 'gigabytes': 1}, {'shares': 1, 'gigabytes': 1}]


def test_manage_unknown_export_fails(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    bogus = '10.0.0.10:/path/to/fake/share/share_%s_%s' % (
        uuidutils.generate_uuid().replace('-', '_'),
        uuidutils.generate_uuid().replace('-', '_'))
    share, inst = _managing_share(db, admin_ctx, bogus)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.manage_share(helpers.user_ctx(), share_id=share['id'],
                         driver_options={})
    assert isinstance(helpers.unwrap(excinfo), exception.ShareBackendException)
    got = db.share_instance_get(admin_ctx, inst['id'], with_share_data=True)
    assert got['status'] == c.STATUS_MANAGE_ERROR
    assert got['size'] == 0
    assert _usage(db, admin_ctx, inst['share_type_id']) == [{}, {}]
    assert _messages(db, admin_ctx, share) == [('002', '001', 'SHARE', 'p1')]


def _messages(db, ctx, share):
    return helpers.messages(db, ctx, share['id'], 'action_id', 'detail_id',
                            'resource_type', 'project_id')


@pytest.mark.parametrize('path', [
    '10.0.0.1:/not a uuid', '10.0.0.1:/path/share_x_y', '', 'share_',
    '10.0.0.1:/share_%s_{%s}' % (
        'a' * 36, '0d3f5a52-6c1e-4b8e-9a27-3f1c2e4d5b60'),
])
def test_manage_invalid_export_path(manager_factory, db, admin_ctx, path):
    """Whatever export path the driver is handed: manage_error, size 0, a message, a clear error."""
    mgr = manager_factory()
    share, inst = _managing_share(db, admin_ctx, path)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.manage_share(helpers.user_ctx(), share_id=share['id'],
                         driver_options={})
    error = helpers.unwrap(excinfo)
    assert isinstance(error, exception.ManageInvalidShare), error
    assert 'export location %r names no share of this backend' % path in (
        str(error))
    got = db.share_instance_get(admin_ctx, inst['id'], with_share_data=True)
    assert (got['status'], got['size']) == (c.STATUS_MANAGE_ERROR, 0)
    assert _messages(db, admin_ctx, share) == [('002', '001', 'SHARE', 'p1')]
    assert _usage(db, admin_ctx, inst['share_type_id']) == [{}, {}]


def test_manage_error_message_once(manager_factory, db, admin_ctx):
    """A manage request for a share no longer managing writes neither status nor message."""
    mgr = manager_factory()
    share, inst = _managing_share(db, admin_ctx, '10.0.0.1:/not a uuid')
    with pytest.raises(messaging.ExpectedException):
        mgr.manage_share(helpers.user_ctx(), share_id=share['id'],
                         driver_options={})
    mgr.manage_share(helpers.user_ctx(), share_id=share['id'], driver_options={})
    assert len(_messages(db, admin_ctx, share)) == 1


@pytest.mark.parametrize('fault', [
    {'dummy_driver_fail_methods': ['manage_existing']},
    {'dummy_driver_invalid_return_methods': ['manage_existing']},
])
def test_manage_driver_failure_or_garbage(manager_factory, db, admin_ctx,
                                          fault):
    mgr = manager_factory(**fault)
    share, inst = _managing_share(db, admin_ctx, '10.0.0.10:/x/share_y')
    with pytest.raises(messaging.ExpectedException):
        mgr.manage_share(helpers.user_ctx(), share_id=share['id'],
                         driver_options={})
    got = db.share_instance_get(admin_ctx, inst['id'], with_share_data=True)
    assert got['status'] == c.STATUS_MANAGE_ERROR and got['size'] == 0
    assert _paths(db, admin_ctx, inst['id']) == ['10.0.0.10:/x/share_y']
    assert _usage(db, admin_ctx, inst['share_type_id']) == [{}, {}]


@pytest.mark.parametrize('answer', [
    {'size': 'many'}, {'size': 0}, {'size': True}, {'size': -3}, ['size'],
    {'size': 2, 'export_locations': [{'no': 'path'}]},
])
def test_manage_rejects_bad_driver_answers(manager_factory, db, admin_ctx,
                                           monkeypatch, answer):
    mgr = manager_factory()
    monkeypatch.setattr(mgr.driver, 'manage_existing',
                        lambda share, options: answer)
    share, inst = _managing_share(db, admin_ctx, '10.0.0.10:/x/share_y')
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.manage_share(helpers.user_ctx(), share_id=share['id'],
                         driver_options={})
    assert isinstance(helpers.unwrap(excinfo), exception.Invalid)
    got = db.share_instance_get(admin_ctx, inst['id'], with_share_data=True)
    assert got['status'] == c.STATUS_MANAGE_ERROR and got['size'] == 0
    assert _usage(db, admin_ctx, inst['share_type_id']) == [{}, {}]


def test_manage_takes_int_like_size_and_driver_columns(manager_factory, db,
                                                       admin_ctx,
                                                       monkeypatch):
    mgr = manager_factory()
    monkeypatch.setattr(mgr.driver, 'manage_existing', lambda share, opts: {
        'size': '4', 'export_locations': ['10.0.0.10:/adopted'],
        'display_description': 'adopted', 'no_such_column': 1})
    share, inst = _managing_share(db, admin_ctx, '10.0.0.10:/x/share_y')
    mgr.manage_share(helpers.user_ctx(), share_id=share['id'], driver_options={})
    got = db.share_instance_get(admin_ctx, inst['id'], with_share_data=True)
    assert (got['status'], got['size'], got['display_description']) == (
        c.STATUS_AVAILABLE, 4, 'adopted')
    assert _paths(db, admin_ctx, inst['id']) == ['10.0.0.10:/adopted']
    assert _usage(db, admin_ctx, inst['share_type_id'])[1] == {
        'shares': 1, 'gigabytes': 4}


def test_manage_refuses_share_type_of_other_driver_mode(manager_factory, db,
                                                        admin_ctx):
    mgr = manager_factory()
    dhss = db.share_type_create(admin_ctx, {
        'name': 'dhss', 'extra_specs': {
            'driver_handles_share_servers': '<is> True'}})
    share, inst = _managing_share(db, admin_ctx, '10.0.0.10:/x/share_y',
                                  share_type_id=dhss['id'])
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.manage_share(helpers.user_ctx(), share_id=share['id'],
                         driver_options={})
    assert isinstance(helpers.unwrap(excinfo), exception.InvalidShare)
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        c.STATUS_MANAGE_ERROR


def test_manage_ignores_share_not_manage_starting(manager_factory, db,
                                                  admin_ctx):
    mgr = manager_factory()
    share, inst = helpers.make_share(db, admin_ctx, status='available')
    mgr.manage_share(helpers.user_ctx(), share_id=share['id'], driver_options={})
    got = db.share_instance_get(admin_ctx, inst['id'], with_share_data=True)
    assert got['status'] == 'available' and got['size'] == 1


# -- unmanage ----------------------------------------------------------------

def _charged_available_share(mgr, db, ctx, size=1):
    share, inst = helpers.make_share(db, ctx, size=size)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    res = db.quota_reserve(ctx, {'shares': 1, 'gigabytes': size}, 'p1', 'u1',
                           share_type_id=inst['share_type_id'])
    db.reservation_commit(ctx, res)
    return share, db.share_instance_get(ctx, inst['id'])


def test_unmanage_success(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = _charged_available_share(mgr, db, admin_ctx, size=2)
    db.share_instance_update(admin_ctx, inst['id'],
                             {'status': c.STATUS_UNMANAGING})
    mgr.unmanage_share(helpers.user_ctx(), share_id=share['id'])
    with pytest.raises(exception.ShareNotFound):
        db.share_get(admin_ctx, share['id'])
    with pytest.raises(exception.ShareInstanceNotFound):
        db.share_instance_get(admin_ctx, inst['id'])
    assert _usage(db, admin_ctx, inst['share_type_id']) == [{}, {}]
    # the dummy remembers the export so the share can be managed again
    assert db.driver_private_data_get(admin_ctx, inst['id'],
                                      'export_location') == \
        inst['export_location']


def test_unmanage_after_failed_manage_keeps_quota(manager_factory, db,
                                                  admin_ctx):
    mgr = manager_factory()
    share, inst = _charged_available_share(mgr, db, admin_ctx)
    db.share_instance_update(admin_ctx, inst['id'],
                             {'status': c.STATUS_MANAGE_ERROR_UNMANAGING})
    mgr.unmanage_share(helpers.user_ctx(), share_id=share['id'])
    with pytest.raises(exception.ShareNotFound):
        db.share_get(admin_ctx, share['id'])
    # upstream still asks the driver, but gives no quota back
    assert db.driver_private_data_get(admin_ctx, inst['id'],
                                      'export_location')
    assert _usage(db, admin_ctx, inst['share_type_id']) == [
        {'shares': 1, 'gigabytes': 1}, {'shares': 1, 'gigabytes': 1}]


def test_unmanage_refused_by_driver(manager_factory, db, admin_ctx,
                                    monkeypatch):
    mgr = manager_factory()

    def refuse(share):
        raise exception.UnmanageInvalidShare(reason='busy')
    monkeypatch.setattr(mgr.driver, 'unmanage', refuse)
    share, inst = _charged_available_share(mgr, db, admin_ctx)
    db.share_instance_update(admin_ctx, inst['id'],
                             {'status': c.STATUS_UNMANAGING})
    mgr.unmanage_share(helpers.user_ctx(), share_id=share['id'])  # no raise
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        c.STATUS_UNMANAGE_ERROR
    assert len(_paths(db, admin_ctx, inst['id'])) == 3
    assert _usage(db, admin_ctx, inst['share_type_id'])[0] == {
        'shares': 1, 'gigabytes': 1}


def test_unmanage_driver_failure_leaves_status(manager_factory, db,
                                               admin_ctx):
    mgr = manager_factory(dummy_driver_fail_methods=['unmanage'])
    share, inst = _charged_available_share(mgr, db, admin_ctx)
    db.share_instance_update(admin_ctx, inst['id'],
                             {'status': c.STATUS_UNMANAGING})
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.unmanage_share(helpers.user_ctx(), share_id=share['id'])
    assert isinstance(helpers.unwrap(excinfo), exception.ShareBackendException)
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        c.STATUS_UNMANAGING
    assert _usage(db, admin_ctx, inst['share_type_id'])[0] == {
        'shares': 1, 'gigabytes': 1}


def _add_rule(db, ctx, share, inst):
    rule = db.share_access_create(ctx, {
        'share_id': share['id'], 'access_type': 'ip',
        'access_to': '10.1.1.1', 'access_level': 'rw', 'state': 'active'})
    return rule


def test_unmanage_removes_access_rules_when_configured(manager_factory, db,
                                                       admin_ctx):
    mgr = manager_factory(unmanage_remove_access_rules=True)
    share, inst = _charged_available_share(mgr, db, admin_ctx)
    rule = _add_rule(db, admin_ctx, share, inst)
    db.share_instance_update(admin_ctx, inst['id'],
                             {'status': c.STATUS_UNMANAGING})
    mgr.unmanage_share(helpers.user_ctx(), share_id=share['id'])
    with pytest.raises(exception.AccessRuleNotFound):
        db.share_access_get(admin_ctx, rule['id'])
    with pytest.raises(exception.ShareNotFound):
        db.share_get(admin_ctx, share['id'])


def test_unmanage_rule_removal_failure(manager_factory, db, admin_ctx):
    mgr = manager_factory(unmanage_remove_access_rules=True,
                          dummy_driver_fail_methods=['update_access'])
    share, inst = _charged_available_share(mgr, db, admin_ctx)
    _add_rule(db, admin_ctx, share, inst)
    db.share_instance_update(admin_ctx, inst['id'],
                             {'status': c.STATUS_UNMANAGING})
    mgr.unmanage_share(helpers.user_ctx(), share_id=share['id'])
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        c.STATUS_UNMANAGE_ERROR
    # upstream gives the quota back before it denies the rules
    assert _usage(db, admin_ctx, inst['share_type_id']) == [{}, {}]


def test_unmanage_ignores_share_not_unmanaging(manager_factory, db,
                                               admin_ctx):
    mgr = manager_factory(dummy_driver_fail_methods=['unmanage'])
    share, inst = _charged_available_share(mgr, db, admin_ctx)
    mgr.unmanage_share(helpers.user_ctx(), share_id=share['id'])
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        c.STATUS_AVAILABLE


def test_unmanage_unknown_share(manager_factory):
    mgr = manager_factory()
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.unmanage_share(helpers.user_ctx(), share_id='nope')
    assert isinstance(helpers.unwrap(excinfo), exception.ShareNotFound)
