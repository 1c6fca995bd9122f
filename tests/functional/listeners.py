"""oslo.messaging listeners on the test broker: what upstream's scheduler receives (capability fanout) and what a notification consumer sees."""

import threading
import uuid

from oslo_config import cfg
import oslo_messaging as messaging


class Recorder:
    """Messages an oslo.messaging listener received, with a bounded wait."""

    def __init__(self):
        self.items = []
        self._cond = threading.Condition()

    def add(self, item):
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def matching(self, predicate):
        with self._cond:
            return [i for i in self.items if predicate(i)]

    def wait(self, predicate, count=1, timeout=30):
        with self._cond:
            ok = self._cond.wait_for(
                lambda: len([i for i in self.items if predicate(i)]) >= count,
                timeout=timeout)
        assert ok, 'fewer than %d matching messages in %r' % (count,
                                                              self.items)
        return self.matching(predicate)


class SchedulerEndpoint:
    """What upstream's scheduler manager exposes for the capability fanout."""

    target = messaging.Target(version='1.11')

    def __init__(self, recorder):
        self.recorder = recorder

    def update_service_capabilities(self, ctxt, service_name, host,
                                    capabilities, timestamp=None):
        self.recorder.add({'service_name': service_name, 'host': host,
                           'capabilities': capabilities,
                           'timestamp': timestamp})


class NotificationEndpoint:
    def __init__(self, recorder):
        self.recorder = recorder

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.recorder.add({'publisher_id': publisher_id,
                           'event_type': event_type, 'payload': payload})


def scheduler_server(transport_url):
    """A started manila-scheduler RPC server and its recorder; stop with :func:`stop`."""
    recorder = Recorder()
    transport = messaging.get_rpc_transport(cfg.CONF, url=transport_url)
    server = messaging.get_rpc_server(
        transport, messaging.Target(topic='manila-scheduler',
                                    server='ft-sched-%s' % uuid.uuid4().hex),
        [SchedulerEndpoint(recorder)])
    server.start()
    return (server, transport), recorder


def notification_listener(transport_url):
    """A started listener on a topic of its own: ((listener, transport), topic, recorder)."""
    topic = 'ft_notifications_%s' % uuid.uuid4().hex
    recorder = Recorder()
    transport = messaging.get_notification_transport(cfg.CONF,
                                                     url=transport_url)
    listener = messaging.get_notification_listener(
        transport, [messaging.Target(topic=topic)],
        [NotificationEndpoint(recorder)])
    listener.start()
    return (listener, transport), topic, recorder


def stop(handle):
    server, transport = handle
    server.stop()
    server.wait()
    transport.cleanup()
