"""Fixtures of the functional tests: private RabbitMQ and PostgreSQL servers on loopback, fresh databases, and daemons run as subprocesses.

Fixture API (see tests/functional/fixtures.py for the helpers):

* ``rabbitmq`` (session): a ``local_services.RabbitMQ`` handle; ``.url`` is
  the transport_url, ``.amqp_url`` the same for kombu. Shared: never stop it
  in a test, ask ``rabbitmq_factory`` for a broker of your own.
* ``postgres`` (session): a ``local_services.PostgreSQL`` handle; ``.url``
  (database ``manila``), ``.admin_url``, ``.create_database(name)``.
* ``fresh_db`` (per test) / ``module_db`` (per module): the URL of a new,
  empty database, dropped afterwards.
* ``rabbitmq_factory`` / ``postgres_factory`` (per test): call to start a
  private server that the test may stop, kill or restart; torn down after.
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


@pytest.fixture(scope='session')
def postgres(services_root):
    handle = _server(local_services.PostgreSQL,
                     os.path.join(services_root, 'postgres'))
    yield handle
    handle.stop()


def _factory(handle_cls, services_root, prefix):
    handles = []

    def make():
        path = tempfile.mkdtemp(prefix=prefix, dir=services_root)
        os.chmod(path, 0o755)
        handles.append(_server(handle_cls, path))
        return handles[-1]
    return make, handles


@pytest.fixture
def rabbitmq_factory(services_root):
    make, handles = _factory(local_services.RabbitMQ, services_root, 'mq-')
    yield make
    for handle in handles:
        handle.destroy()


@pytest.fixture
def postgres_factory(services_root):
    make, handles = _factory(local_services.PostgreSQL, services_root, 'pg-')
    yield make
    for handle in handles:
        handle.destroy()


def _new_database(postgres, label):
    name = 'ft%d_%s' % (next(_db_numbers), re.sub(r'\W', '_', label).lower())
    name = name[:63]
    return name, postgres.create_database(name)


@pytest.fixture(scope='session')
def _databases_to_drop(postgres):
    """Per-test databases are dropped at the end of the session.

    Dropping one at test teardown could pull it away from a daemon that is
    still stopping (fixtures tear down in reverse order of their set-up).
    """
    names = []
    yield names
    for name in names:
        postgres.drop_database(name)


@pytest.fixture
def fresh_db(postgres, request, _databases_to_drop):
    """URL of a new empty database for this test (dropped at session end)."""
    name, url = _new_database(postgres, request.node.name)
    _databases_to_drop.append(name)
    yield url


@pytest.fixture(scope='module')
def module_db(postgres, request):
    """URL of a new empty database shared by this module's tests."""
    name, url = _new_database(postgres, request.module.__name__.split('.')[-1])
    yield url
    postgres.drop_database(name)


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
