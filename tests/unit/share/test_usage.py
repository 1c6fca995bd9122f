"""The periodic share usage gathering: which instances the driver sees, the share.consumed.size notifications, bad driver output."""

from oslo_config import cfg
import pytest
import sqlalchemy

from manila_lite import rpc
from tests.unit.share import helpers

CONF = cfg.CONF


@pytest.fixture
def notifications(monkeypatch):
    sent = []

    class Recorder:
        def __init__(self, publisher):
            self.publisher = publisher

        def info(self, context, event_type, payload):
            sent.append((self.publisher, event_type, payload))

    monkeypatch.setattr(
        rpc, 'get_notifier',
        lambda service=None, host=None: Recorder('%s.%s' % (service, host)))
    return sent


@pytest.fixture
def gathering():
    CONF.set_override('enable_gathering_share_usage_size', True)
    yield
    CONF.clear_override('enable_gathering_share_usage_size')


def test_usage_notified_for_available_instances(manager_factory, db,
                                                admin_ctx, notifications,
                                                gathering):
    mgr = manager_factory(dummy_driver_share_used_size=0.5)
    share, inst = helpers.make_share(db, admin_ctx, status='available',
                                     size=3)
    helpers.make_share(db, admin_ctx, status='error')
    helpers.make_share(db, admin_ctx, status='available',
                       host='otherhost@alpha#p')
    mgr.update_share_usage_size(admin_ctx)
    (publisher, event, payload), = notifications
    assert publisher == 'share.hostA@alpha'
    assert event == 'share.consumed.size'
    assert payload['share_id'] == share['id']
    assert payload['used_size'] == 0.5 and payload['size'] == 3
    assert payload['project_id'] == 'p1' and payload['share_type'] == \
        'default'
    assert payload['gathered_at'] is not None


def test_usage_disabled_by_default(manager_factory, db, admin_ctx,
                                   notifications):
    mgr = manager_factory()
    helpers.make_share(db, admin_ctx, status='available')
    mgr.update_share_usage_size(admin_ctx)
    assert notifications == []


@pytest.mark.parametrize('fault', [
    {'dummy_driver_fail_methods': ['update_share_usage_size']},
    {'dummy_driver_invalid_return_methods': ['update_share_usage_size']},
])
def test_usage_driver_failure_is_logged_not_raised(manager_factory, db,
                                                   admin_ctx, notifications,
                                                   gathering, fault):
    mgr = manager_factory(**fault)
    helpers.make_share(db, admin_ctx, status='available')
    mgr.update_share_usage_size(admin_ctx)
    assert notifications == []


def test_usage_skips_bad_entries(manager_factory, db, admin_ctx,
                                 notifications, gathering, monkeypatch):
    mgr = manager_factory()
    _share, inst = helpers.make_share(db, admin_ctx, status='available')
    monkeypatch.setattr(mgr.driver, 'update_share_usage_size',
                        lambda ctx, shares: [
                            'junk', {'id': 'unknown', 'used_size': 1},
                            {'id': inst['id'], 'used_size': -1},
                            {'id': inst['id'], 'used_size': True},
                            {'id': inst['id'], 'used_size': 2,
                             'gathered_at': 5},
                            {'id': inst['id'], 'used_size': 2}])
    mgr.update_share_usage_size(admin_ctx)
    assert [p['used_size'] for _pub, _e, p in notifications] == [2]


def test_usage_reads_a_constant_number_of_times(manager_factory, db,
                                                admin_ctx, notifications,
                                                gathering):
    mgr = manager_factory()
    engine = db.get_engine()

    def selects(n):
        for _ in range(n):
            helpers.make_share(db, admin_ctx, status='available')
        seen = []

        def record(conn, cursor, statement, *args):
            seen.append(statement)
        sqlalchemy.event.listen(engine, 'before_cursor_execute', record)
        try:
            mgr.update_share_usage_size(admin_ctx)
        finally:
            sqlalchemy.event.remove(engine, 'before_cursor_execute', record)
        return len(seen)

    assert selects(1) == selects(5)
