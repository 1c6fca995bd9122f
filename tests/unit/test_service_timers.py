"""The service's timers: each periodic task on its own spacing, and upstream's clean-up of stopped services every cleanup_interval."""

import datetime
import threading
import time

from oslo_config import cfg

from manila_lite import context
from manila_lite import service
from manila_lite.share import manager as share_manager
from tests.unit.db import helpers as db_helpers

CONF = cfg.CONF


def test_reconciliation_runs_on_its_own_interval(make_service, monkeypatch,
                                                 wait_until):
    """The reconciliation runs every check interval, not every periodic_interval.

    periodic_interval 60, transitional_state_check_interval 1.
    """
    periodic_runs = []
    real = share_manager.reconcile.reconcile

    def counting(mgr, ctx):
        if not threading.current_thread().name.startswith('init-host'):
            periodic_runs.append(time.monotonic())
        return real(mgr, ctx)
    monkeypatch.setattr(share_manager.reconcile, 'reconcile', counting)
    for name, value in (('periodic_interval', 60),
                        ('periodic_fuzzy_delay', 0),
                        ('transitional_state_check_interval', 1)):
        CONF.set_override(name, value)
    try:
        svc = make_service()
        svc.start()
        # Generous bound: with the tick of periodic_interval it would take
        # two minutes to see three runs.
        wait_until(lambda: len(periodic_runs) >= 3, timeout=45)
    finally:
        for name in ('periodic_interval', 'periodic_fuzzy_delay',
                     'transitional_state_check_interval'):
            CONF.clear_override(name)


def test_periodic_tasks_answer_when_the_next_task_is_due(make_service):
    CONF.set_override('transitional_state_check_interval', 7)
    try:
        svc = make_service()
        svc.manager.init_driver()
        idle = svc.periodic_tasks()
    finally:
        CONF.clear_override('transitional_state_check_interval')
    assert 0 < idle <= 7


def test_cleanup_timer_on_cleanup_interval(make_service, monkeypatch):
    started = []
    real = service.loopingcall.FixedIntervalLoopingCall

    class Recording(real):
        def start(self, interval, initial_delay=None, **kwargs):
            started.append((self.f.__name__, interval, initial_delay))
            return super().start(interval, initial_delay=initial_delay,
                                 **kwargs)
    monkeypatch.setattr(service.loopingcall, 'FixedIntervalLoopingCall',
                        Recording)
    svc = make_service()
    svc.start()
    # As upstream: first run one interval after the start.
    assert ('cleanup_services', CONF.cleanup_interval,
            CONF.cleanup_interval) in started


def test_cleanup_removes_stopped_services_of_the_topic(make_service, db):
    ctx = context.get_admin_context()
    old = datetime.datetime.utcnow() - datetime.timedelta(hours=1)

    def row(host, state, topic='manila-share', when=old):
        svc = db.service_create(ctx, {'host': host, 'binary': 'manila-share',
                                      'topic': topic, 'state': state})
        db_helpers.raw_execute('UPDATE services SET updated_at = :t '
                               'WHERE id = :i', t=when, i=svc['id'])
        return svc['id']
    gone = row('old@a', 'stopped')
    kept = [row('fresh@a', 'stopped', when=datetime.datetime.utcnow()),
            row('down@a', 'down'), row('other@a', 'stopped', topic='other')]
    make_service().cleanup_services()
    live = {r['id'] for r in db_helpers.raw_rows(
        'SELECT id FROM services WHERE deleted = 0')}
    assert gone not in live
    assert set(kept) <= live
