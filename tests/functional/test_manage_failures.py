"""manila-lite-manage on a broken deployment: one line per failure with its exit code, within a generous bound; no row left transitional.

Also the way out of a share sent to a host that does not exist: ``share
delete --force`` ends it, ``share reset-state`` resets it.
"""

import time

import pytest

import local_services

pytestmark = pytest.mark.functional

BOUND = 60.0            # liveness bound of a failing command, not a timing


def _daemon(daemon_factory, url, **kwargs):
    """A configuration (no daemon started) whose commands log like an operator's: no DEBUG."""
    options = kwargs.pop('options', {})
    options.setdefault('DEFAULT', {})['debug'] = False
    return daemon_factory(url, start=False, options=options, **kwargs)


def _manage(daemon, *args, timeout=BOUND):
    began = time.monotonic()
    res = daemon.manage(*args, check=False, timeout=timeout)
    return res, time.monotonic() - began


def _one_line(res):
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    return lines[0]


def _closed_port_url(scheme='postgresql+psycopg2'):
    return '%s://manila:manila@127.0.0.1:%d/manila' % (
        scheme, local_services.free_port())


@pytest.mark.parametrize('command', [('service', 'list'), ('share', 'list'),
                                     ('db', 'version')])
def test_unreachable_database_is_one_line(daemon_factory, command):
    url = _closed_port_url()
    daemon = _daemon(daemon_factory, url, db_sync=False)
    res, seconds = _manage(daemon, *command)
    assert res.returncode == 1, res.stderr
    line = _one_line(res)
    assert line.startswith('manila-lite-manage: Database unreachable: '
                           'connection to server at "127.0.0.1"'), line
    assert 'Connection refused' in line
    print('%s with the database down: exit 1 after %.1f s'
          % (' '.join(command), seconds))


def test_refused_login_is_one_line(daemon_factory, fresh_db):
    url = fresh_db.replace('manila:manila@', 'manila:wrong@')
    daemon = _daemon(daemon_factory, url, db_sync=False)
    res, _seconds = _manage(daemon, 'service', 'list')
    assert res.returncode == 2, res.stderr
    assert _one_line(res) == (
        'manila-lite-manage: Invalid configuration: [database] connection: '
        'the database refused the login: connection to server at '
        '"127.0.0.1", port %s failed: password authentication failed for '
        'user "manila"' % url.split(':')[3].split('/')[0])


def test_missing_schema_is_one_line(daemon_factory, fresh_db):
    daemon = _daemon(daemon_factory, fresh_db, db_sync=False)
    res, _seconds = _manage(daemon, 'share', 'list')
    assert res.returncode == 1, res.stderr
    assert _one_line(res).startswith(
        'manila-lite-manage: Database schema missing: table services, '
        'shares, share_instances not found; create it with '
        '"manila-lite-manage db sync"')


def test_unknown_transport_scheme_is_one_line(daemon_factory, fresh_db):
    daemon = _daemon(daemon_factory, fresh_db, options={
        'DEFAULT': {'transport_url': 'rabit://guest:guest@127.0.0.1:5672/'}})
    res, _seconds = _manage(daemon, 'share', 'create', '--size', '1',
                            '--host', daemon.pool_host())
    assert res.returncode == 2, res.stderr
    line = _one_line(res)
    assert line.startswith(
        "manila-lite-manage: Invalid configuration: [DEFAULT] transport_url: "
        "unknown transport scheme 'rabit' (installed: "), line
    assert 'rabbit' in line and 'guest' not in line


def test_share_create_with_the_broker_down_fails_within_its_wait(
        daemon_factory, fresh_db):
    wait = 30
    daemon = _daemon(daemon_factory, fresh_db, options={
        'DEFAULT': {'transport_url': _closed_port_url('rabbit')}})
    res, seconds = _manage(daemon, 'share', 'create', '--size', '1',
                           '--host', daemon.pool_host(), '--wait', str(wait))
    assert res.returncode == 1, res.stderr
    line = _one_line(res)
    assert line.startswith('manila-lite-manage: Message broker unreachable: '
                           ), line
    assert line.endswith(' is now error'), line
    assert seconds < wait + 15, seconds     # the wait, plus start-up slack
    statuses = [r['status'] for r in daemon.db.rows(
        "SELECT status FROM share_instances WHERE deleted = 'False'")]
    assert statuses == ['error']
    print('share create with the broker down: exit 1 after %.1f s' % seconds)


def test_share_for_a_host_without_service_can_be_cleaned_up(
        daemon_factory, fresh_db):
    daemon = _daemon(daemon_factory, fresh_db)
    host = '%s@nosuch#nosuch' % daemon.host
    res, _seconds = _manage(daemon, 'share', 'create', '--size', '1',
                            '--host', host, '--wait', '3')
    assert res.returncode == 1
    progress = [ln for ln in res.stderr.splitlines()
                if ln.startswith('share ')]
    assert progress and progress[0].endswith(': creating (0 s of 3 s)'), \
        res.stderr
    assert res.stderr.splitlines()[-1].startswith(
        'manila-lite-manage: timed out after 3s waiting for share ')
    assert res.stderr.splitlines()[-1].endswith(' (still creating)')
    share_id = daemon.db.scalar('SELECT id FROM shares')

    res, _seconds = _manage(daemon, 'share', 'reset-state', share_id,
                            '--state', 'error')
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == 'Share %s is now error.' % share_id
    res, _seconds = _manage(daemon, 'share', 'reset-state', share_id,
                            '--state', 'extending')
    assert res.returncode == 1
    assert _one_line(res).startswith(
        "manila-lite-manage: Invalid input received: invalid status "
        "'extending'; valid: ")

    res, _seconds = _manage(daemon, 'share', 'delete', share_id, '--force')
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == (
        'Share %s deleted (no share service serves its host: rows removed '
        'without a driver call).' % share_id)
    assert daemon.db.scalar(
        "SELECT count(*) FROM shares WHERE deleted = 'False'") == 0
    assert daemon.db.scalar(
        "SELECT in_use FROM quota_usages WHERE resource = 'shares' "
        "AND user_id IS NOT NULL") == 0
