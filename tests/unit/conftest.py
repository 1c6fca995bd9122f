"""Unit-test fixtures: a migrated SQLite database per test and a ShareManager on the dummy driver."""

from oslo_config import cfg
import pytest

from manila_lite import conf as ml_conf  # noqa: F401
from manila_lite import context as ml_context

CONF = cfg.CONF


@pytest.fixture
def db(tmp_path):
    """A fresh, migrated SQLite database under a temporary state_path."""
    from manila_lite.db import api as db_api
    from manila_lite.db import migration
    CONF.set_override('state_path', str(tmp_path))
    CONF.set_override('connection',
                      'sqlite:///%s' % (tmp_path / 'manila_lite.sqlite'),
                      group='database')
    db_api.dispose_engine()
    migration.db_sync()
    yield db_api
    db_api.dispose_engine()
    CONF.clear_override('connection', group='database')
    CONF.clear_override('state_path')


@pytest.fixture
def admin_ctx():
    return ml_context.get_admin_context()


def configure_backend(name='alpha', **options):
    """Register the backend options in [name] and override them; returns a cleanup callable."""
    from manila_lite.cmd import config_check
    for opts in config_check._backend_opt_lists():
        CONF.register_opts(opts, group=name)
    values = {'share_driver': 'dummy', 'share_backend_name': name,
              'driver_handles_share_servers': False,
              'dummy_driver_default_driver_method_delay': 0,
              'dummy_driver_driver_methods_delays': {}}
    values.update(options)
    for key, value in values.items():
        CONF.set_override(key, value, group=name)

    def cleanup():
        for key in values:
            CONF.clear_override(key, group=name)
    return cleanup


@pytest.fixture
def manager_factory(db, tmp_path):
    """Build initialized ShareManagers for backend sections with given options."""
    from manila_lite import rpc
    from manila_lite.share import manager as share_manager
    rpc.init(CONF, url='fake://')
    CONF.set_override('lock_path', str(tmp_path / 'locks'),
                      group='oslo_concurrency')
    cleanups = []

    def build(name='alpha', host='hostA', init=True, **options):
        cleanups.append(configure_backend(name, **options))
        mgr = share_manager.ShareManager(host='%s@%s' % (host, name),
                                         service_name=name)
        if init:
            mgr.init_driver()
            svc = db.service_create(ml_context.get_admin_context(), {
                'host': mgr.host, 'binary': 'manila-share',
                'topic': 'manila-share', 'report_count': 0,
                'state': 'up'})
            mgr.service_id = svc['id']
        return mgr

    yield build
    for cleanup in cleanups:
        cleanup()
    CONF.clear_override('lock_path', group='oslo_concurrency')


@pytest.fixture
def notifications(monkeypatch):
    """``[(publisher_id, event_type, payload)]`` of the usage notifications sent."""
    from manila_lite import rpc
    sent = []

    class Recorder:
        def __init__(self, publisher):
            self.publisher = publisher

        def info(self, context, event_type, payload):
            sent.append((self.publisher, event_type, payload))

    monkeypatch.setattr(
        rpc, 'get_notifier',
        lambda service=None, host=None: Recorder('%s.%s' % (
            service, host or CONF.host)))
    return sent


@pytest.fixture
def make_service(db, tmp_path, monkeypatch):
    """Build Services of backend ``alpha`` (host hostA) on the fake transport; stopped at the end."""
    from manila_lite import rpc
    from manila_lite import service
    rpc.cleanup()
    rpc.init(CONF, url='fake://')
    CONF.set_override('lock_path', str(tmp_path / 'locks'),
                      group='oslo_concurrency')
    monkeypatch.setattr(service, 'DRIVER_SETUP_FIRST_INTERVAL', 0.2)
    built, cleanups = [], []

    def make(**options):
        cleanups.append(configure_backend('alpha', **options))
        svc = service.Service('hostA@alpha', backend='alpha')
        built.append(svc)
        return svc
    yield make
    for svc in built:
        svc.stop()
    for cleanup in cleanups:
        cleanup()
    rpc.cleanup()
    CONF.clear_override('lock_path', group='oslo_concurrency')


@pytest.fixture
def wait_until():
    """``wait_until(predicate, timeout=30)``: poll until true; fail after ``timeout`` seconds (a bound for failures only)."""
    import time

    def wait(predicate, timeout=30):
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, 'condition not reached'
            time.sleep(0.05)
    return wait


@pytest.fixture
def tooz_coordinator(tmp_path):
    """The tooz lock coordinator (replica operations) on a file back end of this test."""
    from manila_lite import coordination
    CONF.set_override('backend_url', 'file://%s' % (tmp_path / 'tooz'),
                      group='coordination')
    saved = coordination.LOCK_COORDINATOR
    coordination.LOCK_COORDINATOR = coordination.Coordinator()
    yield coordination.LOCK_COORDINATOR
    coordination.LOCK_COORDINATOR.stop()
    coordination.LOCK_COORDINATOR = saved
    CONF.clear_override('backend_url', group='coordination')
