"""manila-lite-status upgrade check: passes on a good deployment (daemon on RabbitMQ and PostgreSQL), names the failing check on each bad one."""

import json
import subprocess
import sys

import pytest

import local_services

pytestmark = pytest.mark.functional

BOUND = 60.0
SUCCESS, WARNING, FAILURE = 0, 1, 2


def _status(daemon):
    """Run the check with the daemon's config; return (exit code, {check: (result, details)})."""
    res = subprocess.run(
        [sys.executable, '-m', 'manila_lite.cmd.status', '--config-file',
         daemon.conf_path, 'upgrade', 'check', '--json'],
        capture_output=True, text=True, timeout=BOUND, cwd=daemon.workdir)
    assert res.stdout.strip(), res.stderr
    report = json.loads(res.stdout)
    return res.returncode, {c['check']: (c['result'], c['details'])
                            for c in report['checks']}


def _quiet(options=None):
    options = options or {}
    options.setdefault('DEFAULT', {})['debug'] = False
    return options


def test_good_deployment_passes(daemon_factory, fresh_db):
    daemon = daemon_factory(fresh_db, options=_quiet())
    code, checks = _status(daemon)
    assert code == SUCCESS, checks
    assert list(checks) == ['Database', 'Database schema', 'Message broker',
                            'Backend alpha', 'Share services']
    assert checks['Database schema'][1].startswith('manila_lite schema at ')
    assert checks['Message broker'][1].startswith('reachable at 127.0.0.1:')
    assert checks['Backend alpha'][1] == (
        'driver manila_lite.share.drivers.dummy.DummyDriver loads, options '
        'valid')
    assert checks['Share services'] == (SUCCESS,
                                        'up: %s@alpha' % daemon.host)


def test_stopped_service_is_a_warning(daemon_factory, fresh_db):
    daemon = daemon_factory(fresh_db, options=_quiet())
    daemon.stop()
    daemon.configure({'DEFAULT': {'service_down_time': 1}})
    daemon.wait_for(lambda: _status(daemon)[0] == WARNING, timeout=30,
                    allow_exit=True, message='the stopped service noticed')
    code, checks = _status(daemon)
    assert checks['Share services'] == (
        WARNING, 'not heartbeating (stopped, not started yet, or failed to '
        'start): %s@alpha' % daemon.host)


@pytest.mark.parametrize('failing', ['Database', 'Database schema',
                                     'Message broker', 'Backend alpha'])
def test_each_bad_deployment_names_its_check(daemon_factory, fresh_db,
                                             failing):
    url, options = fresh_db, _quiet()
    port = local_services.free_port()
    if failing == 'Database':
        url = 'postgresql+psycopg2://manila:manila@127.0.0.1:%d/m' % port
    elif failing == 'Message broker':
        options['DEFAULT']['transport_url'] = \
            'rabbit://guest:guest@127.0.0.1:%d/' % port
    elif failing == 'Backend alpha':
        options['alpha'] = {'share_driver': 'nosuch'}
    daemon = daemon_factory(url, options=options, start=False,
                            db_sync=failing not in ('Database',
                                                    'Database schema'))
    code, checks = _status(daemon)
    assert code == FAILURE, checks
    result, details = checks[failing]
    assert result == FAILURE, checks
    expected = {
        'Database': 'Database unreachable: connection to server at '
                    '"127.0.0.1", port %d failed: Connection refused' % port,
        'Database schema': 'Database schema missing: table services, '
                           'shares, share_instances not found',
        'Message broker': 'Message broker unreachable: 127.0.0.1:%d: '
                          % port,
        'Backend alpha': "Invalid configuration: [alpha] share_driver: "
                         "unknown driver alias 'nosuch'",
    }[failing]
    assert details.replace('\n', ' ').startswith(expected), details
    others = {name: r for name, (r, _d) in checks.items()
              if name != failing and name != 'Share services'}
    if failing == 'Database':
        assert others['Database schema'] == FAILURE
        del others['Database schema']
    assert all(r == SUCCESS for r in others.values()), checks
