"""manila-lite-manage: argument parsing, config errors, service list and the share commands."""

import datetime
import subprocess
import sys
import threading

from oslo_config import cfg
import oslo_messaging as messaging
import pytest
import sqlalchemy as sa

from manila_lite.cmd import manage
from manila_lite import context
from manila_lite import rpc

CONF = cfg.CONF
HOST = 'hostA@alpha#pool0'


@pytest.fixture(autouse=True)
def clean_conf():
    """Leave the global CONF unparsed and without the sub-command option."""
    yield
    CONF.clear()
    CONF.unregister_opt(manage.category_opt)
    if 'use_stderr' in CONF:            # registered by a command that ran
        CONF.set_default('use_stderr', False)
    rpc.cleanup()


@pytest.fixture
def conf_file(tmp_path):
    path = tmp_path / 'manila.conf'
    path.write_text('[DEFAULT]\ntransport_url = fake://\n')
    return path


def _run(capsys, *argv):
    code = manage.run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize('argv', [
    [],
    ['share'],
    ['share', 'create', '--size', '1'],
    ['share', 'create', '--size', 'big', '--host', HOST],
    ['nonsense', 'list'],
    ['service', 'list', '--extra'],
])
def test_usage_errors_exit_2(argv):
    with pytest.raises(SystemExit) as info:
        manage.run(argv)
    assert info.value.code == 2


def test_parses_share_create_arguments(monkeypatch, conf_file):
    seen = {}
    monkeypatch.setitem(manage.__dict__, 'share_create',
                        lambda args: seen.update(vars_of(args)) or 0)
    code = manage.run(['--config-file', str(conf_file), 'share', 'create',
                       '--size', '3', '--proto', 'CIFS', '--host', HOST,
                       '--name', 'n1', '--wait', '5'])
    assert code == 0
    assert seen == {'size': 3, 'proto': 'CIFS', 'share_host': HOST,
                    'display_name': 'n1',
                    'description': None, 'share_type': None, 'wait': 5.0,
                    'project_id': 'admin', 'user_id': 'admin'}


def vars_of(args):
    return {key: getattr(args, key) for key in (
        'size', 'proto', 'share_host', 'display_name', 'description',
        'share_type', 'wait', 'project_id', 'user_id')}


def test_no_argument_shadows_a_registered_option(conf_file):
    # oslo.config raises DuplicateOptError when a sub-command argument's
    # dest equals a top-level option name (e.g. --host vs [DEFAULT] host),
    # and answers the category name for a dest called 'name'.
    manage.parse_config(['--config-file', str(conf_file), 'db', 'version'])
    for actions in manage.COMMANDS.values():
        for _handler, arguments in actions.values():
            for names, kwargs in arguments:
                dest = kwargs.get('dest') or names[-1].lstrip('-').replace(
                    '-', '_')
                assert dest not in CONF and dest != 'name', dest


def test_parses_db_sync_version(monkeypatch, conf_file):
    seen = []
    monkeypatch.setitem(manage.__dict__, 'db_sync',
                        lambda args: seen.append(args.version) or 0)
    assert manage.run(['--config-file', str(conf_file), 'db', 'sync']) == 0
    CONF.clear()
    assert manage.run(['--config-file', str(conf_file), 'db', 'sync',
                       'abc123']) == 0
    assert seen == [None, 'abc123']


def test_missing_config_file(capsys, tmp_path):
    code, out, err = _run(capsys, '--config-file', str(tmp_path / 'nope'),
                          'service', 'list')
    assert code == 2
    assert err.strip().count('\n') == 0
    assert 'nope' in err


@pytest.mark.parametrize('text, section, option', [
    ('[DEFAULT]\nreport_interval = often\n', 'DEFAULT', 'report_interval'),
    ('[DEFAULT]\nservice_down_time = 0\n', 'DEFAULT', 'service_down_time'),
    ('[database]\nmax_retries = lots\n', 'database', 'max_retries'),
])
def test_bad_value_is_one_line(capsys, tmp_path, text, section, option):
    path = tmp_path / 'bad.conf'
    path.write_text(text)
    code, out, err = _run(capsys, '--config-file', str(path),
                          'service', 'list')
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert '[%s] %s' % (section, option) in lines[0]
    assert 'LocationInfo' not in lines[0]


def test_bad_transport_url_is_one_line(capsys, tmp_path):
    path = tmp_path / 'bad.conf'
    path.write_text('[DEFAULT]\ntransport_url = nosuchdriver://x\n')
    code, out, err = _run(capsys, '--config-file', str(path), 'share',
                          'delete', 'S1')
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert 'transport_url' in lines[0]


def test_service_is_up():
    now = datetime.datetime(2026, 1, 1, 12, 0, 0)
    recent = {'updated_at': now - datetime.timedelta(seconds=30),
              'created_at': None}
    old = {'updated_at': now - datetime.timedelta(seconds=61),
           'created_at': None}
    fresh = {'updated_at': None, 'created_at': now}
    assert manage.service_is_up(recent, now)
    assert not manage.service_is_up(old, now)
    assert manage.service_is_up(fresh, now)


def test_print_table_aligns(capsys):
    manage.print_table(['A', 'Long header'], [['xxxxx', 1], [None, 'y']])
    out = capsys.readouterr().out.splitlines()
    assert out == ['A      Long header', 'xxxxx  1', '       y']


def _set_updated_at(service_id, when):
    from manila_lite.db.sqlalchemy import engine
    with engine.get_engine().begin() as conn:
        conn.execute(sa.text('UPDATE services SET updated_at = :when '
                             'WHERE id = :id'),
                     {'when': when, 'id': service_id})


def test_service_list(db, capsys, conf_file):
    admin = context.get_admin_context()
    up = db.service_create(admin, {
        'host': 'hostA@alpha', 'binary': 'manila-share',
        'topic': 'manila-share', 'report_count': 3, 'state': 'up',
        'availability_zone': 'nova'})
    down = db.service_create(admin, {
        'host': 'hostA@beta', 'binary': 'manila-share',
        'topic': 'manila-share', 'report_count': 1, 'state': 'up',
        'availability_zone': 'zone2'})
    db.service_update(admin, down['id'], {'disabled': True})
    now = datetime.datetime.utcnow().replace(microsecond=0)
    _set_updated_at(up['id'], now)
    _set_updated_at(down['id'], now - datetime.timedelta(seconds=600))
    code, out, err = _run(capsys, '--config-file', str(conf_file),
                          'service', 'list')
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ['Host', 'Binary', 'Zone', 'Status', 'State',
                                'Updated', 'At']
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows['hostA@alpha'][1:5] == ['manila-share', 'nova', 'enabled',
                                        ':-)']
    assert rows['hostA@beta'][1:5] == ['manila-share', 'zone2', 'disabled',
                                       'XXX']
    assert str(now) in lines[1] + lines[2]


class FakeBackend:
    """A tiny share service: answers create_share_instance with a status."""

    target = messaging.Target(version='1.30')

    def __init__(self, db_api, status):
        self.db = db_api
        self.status = status
        self.called = threading.Event()

    def create_share_instance(self, ctxt, share_instance_id, request_spec,
                              filter_properties, snapshot_id=None):
        self.db.share_instance_update(ctxt.elevated(), share_instance_id,
                                      {'status': self.status})
        self.called.set()


@pytest.fixture
def backend(db):
    servers = []

    def start(status):
        rpc.init(CONF, url='fake://')
        endpoint = FakeBackend(db, status)
        srv = rpc.get_server(messaging.Target(topic='manila-share',
                                              server='hostA@alpha'),
                             [endpoint])
        srv.start()
        servers.append(srv)
        return endpoint

    yield start
    for srv in servers:
        srv.stop()
        srv.wait()


def test_share_create_wait_available(db, backend, capsys, conf_file,
                                     monkeypatch):
    monkeypatch.setattr(manage, 'POLL_INTERVAL', 0.05)
    endpoint = backend('available')
    code, out, err = _run(capsys, '--config-file', str(conf_file), 'share',
                          'create', '--size', '1', '--host', HOST, '--name',
                          'cli-share', '--wait', '10')
    assert code == 0, err
    assert endpoint.called.is_set()
    assert 'cli-share' in out
    assert 'status: available' in out
    assert 'Export locations:' in out


def test_share_create_wait_error_exits_1(db, backend, capsys, conf_file,
                                         monkeypatch):
    monkeypatch.setattr(manage, 'POLL_INTERVAL', 0.05)
    backend('error')
    code, out, err = _run(capsys, '--config-file', str(conf_file), 'share',
                          'create', '--size', '1', '--host', HOST,
                          '--wait', '10')
    assert code == 1
    assert 'status: error' in out


def test_share_create_wait_times_out(db, capsys, conf_file, monkeypatch):
    monkeypatch.setattr(manage, 'POLL_INTERVAL', 0.05)
    code, out, err = _run(capsys, '--config-file', str(conf_file), 'share',
                          'create', '--size', '1', '--host', HOST,
                          '--wait', '0.2')
    assert code == 1
    assert 'timed out' in err


def test_wait_reads_again_a_share_seen_without_its_instance(monkeypatch):
    """A read straddling the commit that deleted instance and share shows a share without instance: not a final status."""
    from manila_lite import exception
    monkeypatch.setattr(manage, 'POLL_INTERVAL', 0.01)
    reads = [{'id': 's', 'instance': {'status': 'deleting'}},
             {'id': 's', 'instance': None}]

    class Api(object):
        def get(self, context, share_id):
            if not reads:
                raise exception.ShareNotFound(share_id=share_id)
            return reads.pop(0)

    assert manage._wait(Api(), None, 's', 30,
                        lambda s: manage._status(s) != 'deleting') is None


def test_share_list_show_delete(db, capsys, conf_file):
    admin = context.RequestContext(user_id='admin', project_id='admin',
                                   is_admin=True, roles=['admin'])
    from manila_lite.share import api as share_api
    rpc.init(CONF, url='fake://')
    share = share_api.API().create(admin, 1, 'NFS', HOST, name='listed')
    db.share_instance_update(admin, share['instance']['id'],
                             {'status': 'available'})
    rpc.cleanup()

    code, out, err = _run(capsys, '--config-file', str(conf_file), 'share',
                          'list')
    assert code == 0, err
    assert share['id'] in out and 'listed' in out and 'available' in out

    code, out, err = _run(capsys, '--config-file', str(conf_file), 'share',
                          'show', share['id'])
    assert code == 0, err
    assert 'available' in out and HOST in out and 'Export locations' in out

    code, out, err = _run(capsys, '--config-file', str(conf_file), 'share',
                          'delete', share['id'])
    assert code == 0, err
    assert db.share_get(admin, share['id'])['instance']['status'] == \
        'deleting'


def test_share_show_unknown_is_one_line(db, capsys, conf_file):
    code, out, err = _run(capsys, '--config-file', str(conf_file), 'share',
                          'show', 'no-such-share')
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert 'no-such-share' in err


def test_module_is_runnable():
    result = subprocess.run(
        [sys.executable, '-m', 'manila_lite.cmd.manage', 'share', 'create',
         '--help'], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert '--host' in result.stdout and '--wait' in result.stdout


def test_db_sync_and_version(db, capsys, conf_file):
    from manila_lite.db import migration
    code, out, err = _run(capsys, '--config-file', str(conf_file), 'db',
                          'sync')
    assert code == 0, err
    code, out, err = _run(capsys, '--config-file', str(conf_file), 'db',
                          'version')
    assert code == 0, err
    assert out.strip() == migration.head_revision()


def test_db_sync_refuses_upstream_schema(db, capsys, conf_file):
    from manila_lite.db.sqlalchemy import engine
    with engine.get_engine().begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version "
                             "SET version_num = 'afc3b5e1f406'"))
    code, out, err = _run(capsys, '--config-file', str(conf_file), 'db',
                          'sync')
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert 'afc3b5e1f406' in lines[0]
