"""Checks that the functional-test infrastructure itself works: private RabbitMQ and PostgreSQL servers, restarts, and the fixture helpers."""

import os
import socket
import subprocess
import sys
import uuid

import kombu
import pytest

import local_services
from tests.functional import fixtures

pytestmark = pytest.mark.functional


def _assert_stops_cleanly(handle):
    pids = handle.pids()
    assert pids
    handle.stop()
    assert not [p for p in pids if local_services.pid_alive(p)]
    with pytest.raises(OSError):
        socket.create_connection(('127.0.0.1', handle.port), timeout=1).close()


def _roundtrip(amqp_url, body):
    """Publish ``body`` to a fresh queue and consume it back."""
    queue = kombu.Queue('infra-%s' % uuid.uuid4().hex, auto_delete=False,
                        durable=False)
    with kombu.Connection(amqp_url, connect_timeout=5) as conn:
        with conn.Producer() as producer:
            producer.publish(body, routing_key=queue.name, declare=[queue],
                             serializer='json')
        with conn.SimpleQueue(queue) as simple:
            message = simple.get(timeout=5)
            message.ack()
            received = message.payload
        queue(conn.default_channel).delete()
    return received


def _listeners(pids):
    """Local addresses of the TCP sockets the given processes listen on."""
    inodes = set()
    for pid in pids:
        fd_dir = '/proc/%d/fd' % pid
        for fd in os.listdir(fd_dir):
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target.startswith('socket:['):
                inodes.add(target[8:-1])
    found = []
    for table, family in (('/proc/net/tcp', 4), ('/proc/net/tcp6', 6)):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if cols[3] == '0A' and cols[9] in inodes:      # LISTEN
                    found.append((family, cols[1]))
    return found


def _assert_loopback_only(handle):
    pids = handle.pids()
    listeners = _listeners(pids)
    assert listeners, 'no listening socket found for %s' % handle.kind
    loopback = {(4, '0100007F'), (6, '00000000000000000000000001000000')}
    for family, address in listeners:
        assert (family, address.split(':')[0]) in loopback, (
            '%s listens on %s' % (handle.kind, address))


def test_rabbitmq_publish_consume(rabbitmq):
    assert rabbitmq.url == 'rabbit://guest:guest@127.0.0.1:%d/' % rabbitmq.port
    assert _roundtrip(rabbitmq.amqp_url, {'hello': 'rabbit'}) == {
        'hello': 'rabbit'}


def test_servers_listen_on_loopback_only(rabbitmq, postgres):
    _assert_loopback_only(rabbitmq)
    _assert_loopback_only(postgres)


def test_postgres_table_and_row(postgres, fresh_db):
    assert fresh_db.startswith('postgresql+psycopg2://manila:manila@127.0.0.1')
    db = fixtures.Database(fresh_db)
    db.execute('CREATE TABLE things (id serial PRIMARY KEY, name text)')
    db.execute('INSERT INTO things (name) VALUES (:n)', n='one')
    assert db.rows('SELECT id, name FROM things') == [{'id': 1, 'name': 'one'}]
    assert 'things' in db.tables()
    db.dispose()


def test_fresh_db_is_new_each_time(fresh_db, module_db):
    assert fresh_db != module_db
    assert fixtures.Database(fresh_db).tables() == set()


def test_default_database_and_admin(postgres):
    db = fixtures.Database(postgres.url)
    assert db.scalar('SELECT current_user') == 'manila'
    admin = fixtures.Database(postgres.admin_url)
    assert admin.scalar('SELECT current_setting(\'listen_addresses\')') == (
        '127.0.0.1')


def test_rabbitmq_restart_keeps_port(rabbitmq_factory):
    broker = rabbitmq_factory()
    url = broker.url
    assert _roundtrip(broker.amqp_url, 'before') == 'before'
    broker.restart()
    assert broker.url == url
    assert _roundtrip(broker.amqp_url, 'after') == 'after'
    broker.kill()                           # a crash, then a cold start
    assert not broker.running()
    broker.start()
    assert _roundtrip(broker.amqp_url, 'again') == 'again'
    _assert_stops_cleanly(broker)


def test_postgres_restart_keeps_data(postgres_factory):
    server = postgres_factory()
    url = server.create_database('kept')
    db = fixtures.Database(url)
    db.execute('CREATE TABLE t (v int)')
    db.execute('INSERT INTO t VALUES (42)')
    server.restart()
    assert db.scalar('SELECT v FROM t') == 42
    server.kill()
    server.start()
    assert db.scalar('SELECT v FROM t') == 42
    db.dispose()
    _assert_stops_cleanly(server)


def test_cli_start_stop(services_root):
    path = os.path.join(services_root, 'cli-pg')
    script = os.path.join(os.path.dirname(local_services.__file__),
                          'local_services.py')
    run = [sys.executable, script, 'postgres']
    out = subprocess.run(run + ['start', '--dir', path], check=True,
                         capture_output=True, text=True).stdout.strip()
    try:
        assert out.startswith('postgresql+psycopg2://manila:manila@127.0.0.1:')
        assert fixtures.Database(out).scalar('SELECT 1') == 1
    finally:
        subprocess.run(run + ['destroy', '--dir', path], check=True)
    assert not os.path.exists(path)


def test_debian_packages_present():
    local_services.ensure_debian_packages('rabbitmq-server', 'postgresql')
    assert local_services.ensure_debian_packages('rabbitmq-server',
                                                 'postgresql') == []


def test_wait_for_reports_last_value():
    values = iter([0, 0, 3])
    assert fixtures.wait_for(lambda: next(values), timeout=5,
                             interval=0.01) == 3
    with pytest.raises(AssertionError, match='(?s)never.*last: False.*extra'):
        fixtures.wait_for(lambda: False, timeout=0.2, interval=0.05,
                          message='never', details=lambda: 'extra')


def test_daemon_config_file(tmp_path):
    factory = fixtures.DaemonFactory(tmp_path, 'rabbit://x')
    daemon = factory('postgresql+psycopg2://u:p@127.0.0.1:1/d',
                     options={'alpha': {'dummy_driver_default_driver_method_'
                                        'delay': 2,
                                        'share_backend_name': None},
                              'beta': {'share_driver': 'dummy'}},
                     db_sync=False, start=False)
    text = open(daemon.conf_path).read()
    assert '[DEFAULT]\nhost = %s\n' % daemon.host in text
    assert 'debug = true' in text
    assert 'dummy_driver_default_driver_method_delay = 2' in text
    assert 'share_backend_name' not in text
    assert 'dummy_driver_driver_methods_delays = \n' in text
    assert '[beta]\nshare_driver = dummy' in text
    assert daemon.service_hosts == ['%s@alpha' % daemon.host]
    assert daemon.pool_host() == '%s@alpha#alpha' % daemon.host
