"""Reconciliation never settles a row whose message is still queued: queue markers, messages held from intake, a service started on a full queue."""

import datetime
import threading
import time

from oslo_config import cfg
from oslo_utils import timeutils
import pytest

from manila_lite.common import constants as c
from manila_lite import context as ml_context
from manila_lite.share import backlog
from manila_lite.share import guard
from manila_lite.share import reconcile
from manila_lite.share import rpcapi
from tests.unit.share import helpers

CONF = cfg.CONF


def _age(db, table, row_id, seconds=3600):
    import sqlalchemy
    then = timeutils.utcnow() - datetime.timedelta(seconds=seconds)
    with db.get_engine().begin() as conn:
        conn.execute(sqlalchemy.text(
            'UPDATE %s SET updated_at = :w, created_at = :w WHERE id = :i'
            % table), {'w': then, 'i': row_id})


@pytest.fixture
def reconcile_options():
    values = {'transitional_state_timeout': 60,
              'transitional_state_check_interval': 1,
              'periodic_interval': 1, 'periodic_fuzzy_delay': 0}
    for name, value in values.items():
        CONF.set_override(name, value)
    yield values
    for name in values:
        CONF.clear_override(name)


class _Client:
    """Stands in for the RPC client of a Backlog: records casts, or fails them."""

    def __init__(self, fail=False):
        self.casts = []
        self.fail = fail

    def prepare(self, **kwargs):
        assert kwargs == {'retry': backlog.MARKER_RETRY}
        return self

    def cast(self, context, method, **kwargs):
        if self.fail:
            raise ConnectionError('broker down')
        self.casts.append((method, kwargs['token']))


def _backlog(fail=False):
    queue = backlog.Backlog('manila-share', 'hostA@alpha')
    queue._client = _Client(fail=fail)
    return queue


# -- the markers ---------------------------------------------------------------

def test_one_marker_at_a_time_and_the_newest_taken_counts(reconcile_options):
    queue = _backlog()
    ctx = ml_context.get_admin_context()
    assert queue.drained_until() is None
    before = timeutils.utcnow()
    queue.request(ctx)
    queue.request(ctx)          # one is on its way: nothing more is sent
    (method, token), = queue._client.casts
    assert method == 'backlog_marker'
    queue.endpoint.backlog_marker(ctx, token='from-an-earlier-process')
    queue.endpoint.backlog_marker(ctx, token=['not', 'a', 'token'])
    assert queue.drained_until() is None
    queue.endpoint.backlog_marker(ctx, token=token)
    drained = queue.drained_until()
    assert before <= drained <= timeutils.utcnow()
    queue.request(ctx)          # the last one came back: a new one goes
    assert len(queue._client.casts) == 2
    queue.endpoint.backlog_marker(ctx, token=token)     # again: no effect
    assert queue.drained_until() == drained


def test_a_lost_marker_is_replaced_after_the_timeout(reconcile_options,
                                                     monkeypatch):
    queue = _backlog()
    ctx = ml_context.get_admin_context()
    queue.request(ctx)
    later = time.monotonic() + CONF.transitional_state_timeout + 1
    monkeypatch.setattr(backlog.time, 'monotonic', lambda: later)
    queue.request(ctx)
    first, second = [token for _m, token in queue._client.casts]
    queue.endpoint.backlog_marker(ctx, token=second)
    # The first one, older, tells nothing new if it still comes.
    assert first not in queue._outstanding


def test_a_failed_cast_is_logged_and_tried_next_time(reconcile_options,
                                                     caplog):
    queue = _backlog(fail=True)
    ctx = ml_context.get_admin_context()
    queue.request(ctx)
    assert 'Could not cast a queue marker to hostA@alpha' in caplog.text
    assert queue._outstanding == {}
    queue._client.fail = False
    queue.request(ctx)
    assert len(queue._client.casts) == 1


def test_message_resources_are_held_until_released():
    in_flight = guard.InFlight()
    release = guard.hold_message(in_flight, {
        'method': 'extend_share', 'args': {'share_id': 's1', 'new_size': 2}})
    other = guard.hold_message(in_flight, {'method': 'x', 'args': 'junk'})
    assert in_flight.snapshot() == {'s1'}
    release()
    release()                   # once only
    other()
    assert in_flight.snapshot() == frozenset()


# -- the reconciliation asks the queue ----------------------------------------

def test_rows_wait_for_a_marker_taken_after_they_went_stale(
        manager_factory, db, admin_ctx, reconcile_options):
    mgr = manager_factory()
    mgr.backlog = _backlog()
    _s, extending = helpers.make_share(db, admin_ctx, status='extending')
    _age(db, 'share_instances', extending['id'], seconds=3600)
    # No marker back yet: nothing settled, one marker asked for.
    assert reconcile.reconcile(mgr, admin_ctx) == 0
    (_m, token), = mgr.backlog._client.casts
    assert reconcile.reconcile(mgr, admin_ctx) == 0
    assert len(mgr.backlog._client.casts) == 1
    mgr.backlog.endpoint.backlog_marker(admin_ctx, token=token)
    assert reconcile.reconcile(mgr, admin_ctx) == 1
    assert db.share_instance_get(admin_ctx, extending['id'])['status'] == (
        c.STATUS_EXTENDING_ERROR)


def test_a_marker_sent_too_early_settles_nothing(manager_factory, db,
                                                 admin_ctx,
                                                 reconcile_options):
    """The row must already have been stale when the marker was sent."""
    import sqlalchemy
    CONF.set_override('transitional_state_timeout', 1)
    mgr = manager_factory()
    mgr.backlog = _backlog()
    _s, extending = helpers.make_share(db, admin_ctx, status='extending')
    mgr.backlog.request(admin_ctx)
    (_m, early), = mgr.backlog._client.casts
    mgr.backlog.endpoint.backlog_marker(admin_ctx, token=early)
    # Changed half a second before that marker was sent: not stale then.
    changed = mgr.backlog.drained_until() - datetime.timedelta(seconds=0.5)
    with db.get_engine().begin() as conn:
        conn.execute(sqlalchemy.text(
            'UPDATE share_instances SET updated_at = :w WHERE id = :i'),
            {'w': changed, 'i': extending['id']})
    time.sleep(1.6)             # stale now
    assert reconcile.reconcile(mgr, admin_ctx) == 0
    assert len(mgr.backlog._client.casts) == 2      # a newer marker asked
    assert db.share_instance_get(admin_ctx, extending['id'])['status'] == (
        c.STATUS_EXTENDING)


def test_service_started_on_a_full_queue_carries_the_casts_out(
        make_service, db, admin_ctx, reconcile_options, caplog, wait_until):
    """Extends queued while the service was stopped all succeed, once each.

    Their rows are an hour old; a row without a message is settled once
    the queue has been worked through.
    """
    from oslo_messaging import server as messaging_server
    CONF.register_opts(messaging_server._pool_opts)
    CONF.set_override('executor_thread_pool_size', 1)
    svc = make_service(dummy_driver_driver_methods_delays={
        'extend_share': '0.2'})
    extended = []
    shares = []
    for _ in range(8):
        share, inst = helpers.make_share(db, admin_ctx, status='extending')
        _age(db, 'share_instances', inst['id'])
        shares.append(share)
    _s, lost = helpers.make_share(db, admin_ctx, status='extending')
    _age(db, 'share_instances', lost['id'])
    client = rpcapi.ShareAPI()
    for share in shares:
        client.extend_share(ml_context.get_admin_context(),
                            db.share_get(admin_ctx, share['id']), 2, [])
    real = svc.manager.driver.extend_share
    lock = threading.Lock()

    def counting(share_instance, new_size, share_server=None):
        with lock:
            extended.append(share_instance['share_id'])
        return real(share_instance, new_size, share_server=share_server)
    svc.manager.driver.extend_share = counting
    try:
        svc.start()
        wait_until(lambda: db.share_instance_get(
            admin_ctx, lost['id'])['status'] == c.STATUS_EXTENDING_ERROR,
            timeout=60)
    finally:
        CONF.clear_override('executor_thread_pool_size')
    assert sorted(extended) == sorted(s['id'] for s in shares)
    for share in shares:
        row = db.share_get(admin_ctx, share['id'])
        assert (row['status'], row['size']) == (c.STATUS_AVAILABLE, 2)
    assert 'was stranded in extending' in caplog.text
    assert caplog.text.count('was stranded in extending') == 1
