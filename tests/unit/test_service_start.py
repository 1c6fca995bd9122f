"""Service start-up.

RPC is consumed before the driver set-up ends; requests wait for that attempt;
a failed one stops consuming until a retry passes.
"""

import threading
import time

from oslo_config import cfg
import pytest

from manila_lite import context
from manila_lite import rpc
from manila_lite import service
from manila_lite.share import rpcapi
from tests.unit.conftest import configure_backend

CONF = cfg.CONF


@pytest.fixture
def make_service(db, tmp_path, monkeypatch):
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


def _answer_to_a_call():
    """Class name of the error a ``connection_get_info`` call gets back."""
    client = rpcapi.ShareAPI().client.prepare(server='hostA@alpha',
                                              version='1.12', timeout=30)
    try:
        client.call(context.get_admin_context(), 'connection_get_info',
                    share_instance_id='no-such-instance')
    except Exception as exc:
        return getattr(exc, 'exc_type', type(exc).__name__)
    return None


def _wait_until(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'condition not reached'
        time.sleep(0.05)


def test_requests_wait_for_the_driver_set_up_under_way(make_service):
    svc = make_service()
    gate = threading.Event()
    real_setup = svc.manager.driver.do_setup

    def slow_setup(ctx):
        gate.wait(30)
        real_setup(ctx)
    svc.manager.driver.do_setup = slow_setup
    svc.start()
    # Consuming (the init thread starts the RPC server first), the driver
    # not set up yet.
    _wait_until(lambda: svc.rpcserver is not None)
    assert not svc.manager.driver.initialized
    answers = []
    caller = threading.Thread(
        target=lambda: answers.append(_answer_to_a_call()))
    caller.start()
    caller.join(0.5)
    assert caller.is_alive() and not answers   # waits, no DriverNotInitialized
    gate.set()
    caller.join(30)
    assert answers == ['ShareInstanceNotFound']
    _wait_until(lambda: svc._ensure_thread is not None and
                not svc._ensure_thread.is_alive())


def test_failed_set_up_stops_consuming_until_a_retry_passes(make_service):
    svc = make_service(dummy_driver_fail_methods=['check_for_setup_error'])
    svc.start()
    _wait_until(lambda: svc.rpcserver is None)
    assert not svc.manager.driver.initialized
    CONF.set_override('dummy_driver_fail_methods', [], group='alpha')
    _wait_until(lambda: svc.manager.driver.initialized and
                svc.rpcserver is not None)
    assert _answer_to_a_call() == 'ShareInstanceNotFound'
