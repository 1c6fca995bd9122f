"""Hook drivers: loading from hook_drivers, pre/post hooks around manager methods, error suppression, periodic hooks."""

import oslo_messaging as messaging
import pytest

from manila_lite.common import constants as c
from manila_lite import exception
from manila_lite.share import hook
from tests.unit.share import helpers

PATH = 'tests.unit.share.test_hook.RecordingHook'
CALLS = []


class RecordingHook(hook.HookBase):
    """Records every hook call; raises where the class attributes say so."""

    fail_pre = False
    fail_post = False

    def _execute_pre_hook(self, context, func_name, *args, **kwargs):
        CALLS.append(('pre', func_name, kwargs))
        if self.fail_pre:
            raise RuntimeError('pre hook broke')
        return 'pre-data-%s' % func_name

    def _execute_post_hook(self, context, func_name, pre_hook_data,
                           driver_action_results, *args, **kwargs):
        CALLS.append(('post', func_name, pre_hook_data,
                      driver_action_results))
        if self.fail_post:
            raise RuntimeError('post hook broke')

    def _execute_periodic_hook(self, context, periodic_hook_data, *args,
                               **kwargs):
        CALLS.append(('periodic', periodic_hook_data))


class NotAHook:
    pass


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()
    RecordingHook.fail_pre = RecordingHook.fail_post = False
    yield
    CALLS.clear()


def _hooked(manager_factory, **flags):
    options = {'hook_drivers': [PATH], 'enable_pre_hooks': True,
               'enable_post_hooks': True, 'enable_periodic_hooks': True}
    options.update(flags)
    return manager_factory(**options)


def test_hooks_run_around_rpc_methods(manager_factory, db, admin_ctx):
    mgr = _hooked(manager_factory)
    assert [type(h) for h in mgr.hooks] == [RecordingHook]
    _share, inst = helpers.make_share(db, admin_ctx)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    assert CALLS == [
        ('pre', 'create_share_instance', {'share_instance_id': inst['id']}),
        ('post', 'create_share_instance', 'pre-data-create_share_instance',
         None)]
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        c.STATUS_AVAILABLE


def test_every_upstream_hooked_method_is_hooked(manager_factory):
    from manila_lite.share import manager
    for name in ('create_share_instance', 'delete_share_instance',
                 'manage_share', 'unmanage_share', 'extend_share',
                 'shrink_share', 'revert_to_snapshot', 'update_access',
                 'create_snapshot', 'delete_snapshot', 'manage_snapshot',
                 'unmanage_snapshot', 'publish_service_capabilities',
                 'init_host'):
        func = getattr(manager.ShareManager, name)
        hooked = False
        while func is not None:
            hooked = hooked or '__wrapped__' in vars(func) and \
                getattr(func, 'runs_hooks', False)
            func = getattr(func, '__wrapped__', None)
        assert hooked, name
    for name in ('connection_get_info', '_report_driver_status',
                 '_publish_service_capabilities'):
        assert not getattr(getattr(manager.ShareManager, name),
                           'runs_hooks', False), name


def test_capabilities_hooks_run_once_as_upstream(manager_factory, admin_ctx):
    """Hooks run once around publish_service_capabilities, as upstream's.

    Never around the driver status report inside it, nor the periodic one.
    """
    mgr = _hooked(manager_factory)
    mgr.publish_service_capabilities(helpers.user_ctx())
    assert [(call[0], call[1]) for call in CALLS] == [
        ('pre', 'publish_service_capabilities'),
        ('post', 'publish_service_capabilities')]
    CALLS.clear()
    mgr._report_driver_status(admin_ctx)
    mgr._publish_service_capabilities(admin_ctx)
    assert CALLS == []
    assert mgr.last_capabilities['share_backend_name'] == 'alpha'


def test_disabled_hooks_do_nothing(manager_factory, db, admin_ctx):
    mgr = _hooked(manager_factory, enable_pre_hooks=False,
                  enable_post_hooks=False, enable_periodic_hooks=False)
    _share, inst = helpers.make_share(db, admin_ctx)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    mgr._execute_periodic_hook(admin_ctx)
    assert CALLS == []


def test_failing_pre_hook_fails_the_action(manager_factory, db, admin_ctx):
    mgr = _hooked(manager_factory)
    RecordingHook.fail_pre = True
    _share, inst = helpers.make_share(db, admin_ctx)
    with pytest.raises(RuntimeError):
        mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        c.STATUS_CREATING
    assert [call[0] for call in CALLS] == ['pre']


def test_suppressed_hook_errors_let_the_action_through(manager_factory, db,
                                                       admin_ctx):
    mgr = _hooked(manager_factory, suppress_pre_hooks_errors=True,
                  suppress_post_hooks_errors=True)
    RecordingHook.fail_pre = RecordingHook.fail_post = True
    _share, inst = helpers.make_share(db, admin_ctx)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        c.STATUS_AVAILABLE
    post = [call for call in CALLS if call[0] == 'post']
    assert isinstance(post[0][2], RuntimeError)  # the pre hook's error


def test_post_hook_gets_the_method_result(manager_factory, db, admin_ctx):
    mgr = _hooked(manager_factory)
    _share, inst = helpers.make_share(db, admin_ctx)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    CALLS.clear()
    info = mgr.connection_get_info(helpers.user_ctx(), share_instance_id=inst['id'])
    assert CALLS == []  # upstream does not hook connection_get_info
    mgr.publish_service_capabilities(helpers.user_ctx())
    names = [call[1] for call in CALLS]
    assert 'publish_service_capabilities' in names
    assert info['access_mapping']


def test_periodic_hook_gets_this_hosts_instances(manager_factory, db,
                                                 admin_ctx):
    mgr = _hooked(manager_factory)
    _s1, mine = helpers.make_share(db, admin_ctx, status='available')
    _s2, _other = helpers.make_share(db, admin_ctx, status='available',
                                     host='otherhost@alpha#p')
    mgr._execute_periodic_hook(admin_ctx)
    (kind, data), = [call for call in CALLS if call[0] == 'periodic']
    assert [i['id'] for i in data] == [mine['id']]


def test_periodic_hook_survives_driver_failure(manager_factory, monkeypatch,
                                               admin_ctx):
    mgr = _hooked(manager_factory)

    def broken(context, share_instances):
        raise RuntimeError('backend down')
    monkeypatch.setattr(mgr.driver, 'get_periodic_hook_data', broken)
    mgr._execute_periodic_hook(admin_ctx)
    assert CALLS == []


@pytest.mark.parametrize('path, words', [
    ('no.such.module.Hook', 'cannot be imported'),
    ('tests.unit.share.test_hook.Missing', 'cannot be imported'),
    ('tests.unit.share.test_hook.NotAHook', 'is not a hook driver'),
])
def test_bad_hook_driver_is_a_config_error(manager_factory, path, words):
    with pytest.raises(exception.ConfigError) as excinfo:
        manager_factory(hook_drivers=[path], init=False)
    text = str(excinfo.value)
    assert '[alpha] hook_drivers' in text and words in text and path in text


def test_no_hooks_by_default(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    assert mgr.hooks == []
    with pytest.raises(messaging.ExpectedException):
        mgr.create_share_instance(helpers.user_ctx(), share_instance_id='nope')
