"""Fixtures of the functional tests: private RabbitMQ, PostgreSQL and MariaDB servers on loopback, fresh databases, and daemons run as subprocesses.

Fixture API (see tests/functional/fixtures.py for the helpers):

* ``rabbitmq`` (session): a ``local_services.RabbitMQ`` handle; ``.url`` is
  the transport_url, ``.amqp_url`` the same for kombu. Shared: never stop it
  in a test, ask ``rabbitmq_factory`` for a broker of your own.
* ``postgres`` / ``mariadb`` (session, started on first use): a
  ``local_services.PostgreSQL`` / ``MariaDB`` handle; ``.url`` (database
  ``manila``), ``.admin_url``, ``.create_database(name)``.
* ``db_backend`` / ``db_server``: the database kind of this test
  (``postgresql`` or ``mariadb``) and its session server. Every test using
  ``fresh_db`` or ``module_db`` runs once per kind listed in
  ``MANILA_LITE_DB_BACKENDS`` (comma-separated), except the tests that
  ask for ``postgres`` itself or are marked ``postgres_only``; unset, on
  PostgreSQL, and on MariaDB too in the modules of ``MARIADB_MODULES``.
* ``fresh_db`` (per test) / ``module_db`` (per module): the URL of a new,
  empty database on ``db_server``, dropped afterwards.
* ``rabbitmq_factory`` / ``postgres_factory`` / ``db_server_factory`` (per
  test): call to start a private server (the last one of this test's
  kind) that the test may stop, kill or restart; torn down after.
* ``daemon_factory`` (per test): ``daemon_factory(db_url, options=...,
  host=..., db_sync=True, start=True)`` returns a started, ready
  ``fixtures.Daemon``; all are stopped (SIGTERM) after the test.
* ``scheduler_fanout`` / ``notifications`` (per test): a manila-scheduler
  RPC server and a notification listener on the test broker, recording
  what they receive (``tests/functional/listeners.py``).

Servers and daemons die with the pytest process even if it is killed.
Set MANILA_LITE_KEEP_TMP=1 to keep the servers' directories for debugging.
"""

import importlib.util
import itertools
import os
import re
import shutil
import sys
import tempfile

import pytest

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     os.pardir, os.pardir, 'tools')
if os.path.abspath(TOOLS) not in sys.path:
    sys.path.insert(0, os.path.abspath(TOOLS))

import local_services  # noqa: E402

from tests.functional import fixtures  # noqa: E402
from tests.functional import listeners  # noqa: E402

_db_numbers = itertools.count(1)


DB_BACKENDS = ('postgresql', 'mariadb')
_SERVER_FIXTURE = {'postgresql': 'postgres', 'mariadb': 'mariadb'}


def _enabled_backends():
    wanted = os.environ.get('MANILA_LITE_DB_BACKENDS')
    if not wanted:
        return list(DB_BACKENDS)
    names = [n.strip() for n in wanted.split(',') if n.strip()]
    unknown = set(names) - set(DB_BACKENDS)
    if unknown:
        raise pytest.UsageError('MANILA_LITE_DB_BACKENDS: unknown %s (known: '
                                '%s)' % (sorted(unknown), DB_BACKENDS))
    return names


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'postgres_only: run this database test on PostgreSQL only')


# Running every database test twice would double the functional tier's
# time; by default MariaDB runs the representative, database-heavy subset
# below (creation and deletion with its quota release, snapshots, resize,
# and the quota contention runs, where upstream's db sync makes the schema
# and upstream's API drives the daemon); the rest runs on PostgreSQL
# (interop's lifecycle on MariaDB alone took ~10 min on a loaded 2-core
# host; the concurrency module ~7). MANILA_LITE_DB_BACKENDS=mariadb (or
# postgresql,mariadb) runs every database test on the kinds it names.
MARIADB_MODULES = frozenset([
    'tests.functional.test_share_daemon', 'tests.functional.test_snapshots',
    'tests.functional.test_resize',
    'tests.functional.reliability.test_quota_contention'])


def pytest_generate_tests(metafunc):
    if 'db_backend' not in metafunc.fixturenames:
        return
    backends = _enabled_backends()
    if ('postgres' in metafunc.fixturenames or
            metafunc.definition.get_closest_marker('postgres_only')):
        backends = ['postgresql']
    elif (not os.environ.get('MANILA_LITE_DB_BACKENDS') and
          metafunc.module.__name__ not in MARIADB_MODULES):
        backends = ['postgresql']
    metafunc.parametrize('db_backend', backends, scope='session')


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here + os.sep):
            item.add_marker(pytest.mark.functional)


@pytest.fixture(scope='session')
def services_root():
    """A directory for the servers that the postgres user can traverse."""
    path = tempfile.mkdtemp(prefix='manila-lite-ft-')
    os.chmod(path, 0o755)
    yield path
    if not os.environ.get('MANILA_LITE_KEEP_TMP'):
        shutil.rmtree(path, ignore_errors=True)


def _server(handle_cls, path):
    handle = handle_cls(path, die_with_parent=True)
    try:
        handle.start()
    except local_services.ServiceError as exc:
        pytest.fail(str(exc), pytrace=False)
    return handle


@pytest.fixture(scope='session')
def rabbitmq(services_root):
    handle = _server(local_services.RabbitMQ,
                     os.path.join(services_root, 'rabbitmq'))
    yield handle
    handle.stop()


def _session_server(handle_cls, services_root, name):
    handle = _server(handle_cls, os.path.join(services_root, name))
    yield handle
    handle.stop()


@pytest.fixture(scope='session')
def postgres(services_root):
    yield from _session_server(local_services.PostgreSQL, services_root,
                               'postgres')


@pytest.fixture(scope='session')
def mariadb(services_root):
    yield from _session_server(local_services.MariaDB, services_root,
                               'mariadb')


@pytest.fixture(scope='session')
def db_server(db_backend, request):
    """The session server of this test's database kind (started on first use)."""
    return request.getfixturevalue(_SERVER_FIXTURE[db_backend])


def _factory(handle_cls, services_root, prefix):
    """Yields make() starting private servers; destroys them afterwards."""
    handles = []

    def make():
        path = tempfile.mkdtemp(prefix=prefix, dir=services_root)
        os.chmod(path, 0o755)
        handles.append(_server(handle_cls, path))
        return handles[-1]
    yield make
    for handle in handles:
        handle.destroy()


@pytest.fixture
def rabbitmq_factory(services_root):
    yield from _factory(local_services.RabbitMQ, services_root, 'mq-')


@pytest.fixture
def postgres_factory(services_root):
    yield from _factory(local_services.PostgreSQL, services_root, 'pg-')


@pytest.fixture
def db_server_factory(services_root, db_backend):
    """Like postgres_factory, for this test's database kind."""
    cls = {'postgresql': local_services.PostgreSQL,
           'mariadb': local_services.MariaDB}[db_backend]
    yield from _factory(cls, services_root, 'db-')


def _new_database(server, label):
    name = 'ft%d_%s' % (next(_db_numbers), re.sub(r'\W', '_', label).lower())
    name = name[:63]
    return name, server.create_database(name)


@pytest.fixture(scope='session')
def _databases_to_drop(db_server):
    """Per-test databases are dropped at the end of the session.

    Dropping one at test teardown could pull it away from a daemon that is
    still stopping (fixtures tear down in reverse order of their set-up).
    """
    names = []
    yield names
    for name in names:
        db_server.drop_database(name)


@pytest.fixture
def fresh_db(db_server, request, _databases_to_drop):
    """URL of a new empty database for this test (dropped at session end)."""
    name, url = _new_database(db_server, request.node.name)
    _databases_to_drop.append(name)
    yield url


@pytest.fixture(scope='module')
def module_db(db_server, request):
    """URL of a new empty database shared by this module's tests."""
    name, url = _new_database(db_server,
                              request.module.__name__.split('.')[-1])
    yield url
    db_server.drop_database(name)


@pytest.fixture
def daemon_factory(rabbitmq, tmp_path):
    """Starts manila-lite-share daemons; stops them after the test."""
    if not os.path.exists(os.path.join(
            os.path.dirname(importlib.util.find_spec('manila_lite').origin),
            'cmd', 'share.py')):
        pytest.skip('manila_lite/cmd/share.py does not exist yet')
    factory = fixtures.DaemonFactory(tmp_path, rabbitmq.url,
                                     amqp_url=rabbitmq.amqp_url)
    yield factory
    errors = factory.cleanup()
    if errors:
        pytest.fail('\n\n'.join(errors), pytrace=False)


@pytest.fixture
def share_rpc(rabbitmq):
    """Our ShareAPI (upstream's exact wire messages) on its own transport to the test broker."""
    with fixtures.share_client(rabbitmq.url) as api:
        yield api


@pytest.fixture
def scheduler_fanout(rabbitmq):
    """A manila-scheduler RPC server on the test broker; yields a recorder."""
    handle, recorder = listeners.scheduler_server(rabbitmq.url)
    yield recorder
    listeners.stop(handle)


@pytest.fixture
def notifications(rabbitmq):
    """(topic, recorder): a notification listener on a topic of its own.

    Daemons send there with ``[oslo_messaging_notifications] driver =
    messagingv2`` and ``topics = <topic>``.
    """
    handle, topic, recorder = listeners.notification_listener(rabbitmq.url)
    yield topic, recorder
    listeners.stop(handle)


@pytest.fixture
def pg_facade(fresh_db):
    """manila_lite.db.api pointed at this test's PostgreSQL database (migrated).

    Tests write rows the way upstream's API would (shares, snapshots, access
    rules) through it, and read results back, while the daemon under test
    uses the same database.
    """
    from manila_lite.db import api as db_api
    from manila_lite.db import migration
    from oslo_config import cfg
    conf = cfg.CONF
    conf.set_override('connection', fresh_db, group='database')
    db_api.dispose_engine()
    migration.db_sync()
    yield db_api
    db_api.dispose_engine()
    conf.clear_override('connection', group='database')
