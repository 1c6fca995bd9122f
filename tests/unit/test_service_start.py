"""Service start-up.

RPC is consumed before the driver set-up ends; requests wait for that attempt;
a failed one stops consuming until a retry passes.
"""

import threading

from oslo_config import cfg

from manila_lite import context
from manila_lite.share import rpcapi

CONF = cfg.CONF


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


def test_requests_wait_for_the_driver_set_up_under_way(make_service,
                                                       wait_until):
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
    wait_until(lambda: svc.rpcserver is not None)
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
    wait_until(lambda: svc._ensure_thread is not None and
               not svc._ensure_thread.is_alive())


def test_failed_set_up_stops_consuming_until_a_retry_passes(
        make_service, wait_until):
    svc = make_service(dummy_driver_fail_methods=['check_for_setup_error'])
    svc.start()
    wait_until(lambda: svc.rpcserver is None)
    assert not svc.manager.driver.initialized
    CONF.set_override('dummy_driver_fail_methods', [], group='alpha')
    wait_until(lambda: svc.manager.driver.initialized and
               svc.rpcserver is not None)
    assert _answer_to_a_call() == 'ShareInstanceNotFound'
