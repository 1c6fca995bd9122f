"""Secrets never reach the daemon's logs (broker and database passwords, driver access keys), and localfs never touches a path outside its pools."""

import os
import secrets
import signal
import stat
import urllib.parse

import pytest

from manila_lite import context as ml_context
from tests.functional import share_rows

pytestmark = pytest.mark.functional


def _ctx():
    return ml_context.RequestContext(user_id='u1', project_id='p1',
                                     roles=['member'])


def _secret(label):
    """A password nothing else would print (long, random, labelled)."""
    return '%s%s' % (label, secrets.token_hex(12))


@pytest.fixture
def secret_urls(rabbitmq, postgres, fresh_db):
    """``(transport_url, db_url, passwords)`` with users made for this test."""
    tag = secrets.token_hex(4)
    mq_password, pg_password = _secret('MqPw'), _secret('PgPw')
    mq_url = rabbitmq.add_user('mlsec%s' % tag, mq_password)
    role = 'mlsec%s' % tag
    postgres.sql("CREATE ROLE %s LOGIN PASSWORD '%s'" % (role, pg_password))
    postgres.sql('GRANT manila TO %s' % role)   # owner rights on fresh_db
    parts = urllib.parse.urlsplit(fresh_db)
    netloc = '%s:%s@%s:%d' % (role, pg_password, parts.hostname, parts.port)
    db_url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    yield mq_url, db_url, (mq_password, pg_password)


def _assert_absent(daemon, values):
    texts = {'log file': daemon.log_text(), 'stdout/stderr':
             daemon.output_text()}
    for where, text in texts.items():
        for value in values:
            assert value not in text, '%r leaked into the %s' % (value,
                                                                 where)


def _allow(pg, share_id, inst_id):
    ctx = ml_context.get_admin_context()
    rule = pg.share_access_create(ctx, {
        'share_id': share_id, 'access_type': 'ip', 'access_to': '10.9.8.0/24',
        'access_level': 'rw', 'state': 'queued_to_apply'})
    pg.share_instance_access_rules_status_update(ctx, inst_id, ['active'],
                                                 'syncing')
    return rule['id']


def _deny(pg, inst_id, access_id):
    ctx = ml_context.get_admin_context()
    pg.share_instance_access_update(ctx, access_id, inst_id,
                                    {'state': 'queued_to_deny'})
    pg.share_instance_access_rules_status_update(ctx, inst_id, ['active'],
                                                 'syncing')


def _mapping_state(daemon, inst_id, access_id):
    return daemon.db.scalar(
        'SELECT state FROM share_instance_access_map WHERE '
        'share_instance_id = :i AND access_id = :a', i=inst_id, a=access_id)


def test_passwords_and_access_keys_stay_out_of_debug_logs(
        daemon_factory, secret_urls, pg_facade, share_rpc):
    mq_url, db_url, passwords = secret_urls
    daemon = daemon_factory(db_url, options={
        'DEFAULT': {'transport_url': mq_url},
        'alpha': {'dummy_driver_access_keys': True}})
    share = share_rows.available_share(pg_facade, daemon, share_rpc)
    inst_id = share['instance']['id']

    access_id = _allow(pg_facade, share['id'], inst_id)
    share_rpc.update_access(_ctx(), share['instance'])
    daemon.wait_for(lambda: _mapping_state(daemon, inst_id, access_id) ==
                    'active', message='access rule active')
    key = daemon.db.scalar('SELECT access_key FROM share_access_map '
                           'WHERE id = :i', i=access_id)
    assert key and len(key) >= 24          # the driver's key reached the DB
    _deny(pg_facade, inst_id, access_id)
    share_rpc.update_access(_ctx(), share['instance'])
    daemon.wait_for(lambda: _mapping_state(daemon, inst_id, access_id) ==
                    'deleted', message='access rule denied')

    # Guru Meditation report: dumps every option to stderr on SIGUSR2.
    os.kill(daemon.pid, signal.SIGUSR2)
    daemon.wait_for(lambda: 'transport_url' in daemon.output_text(),
                    message='configuration in the SIGUSR2 report')
    daemon.stop()
    log = daemon.log_text()
    assert ' DEBUG ' in log
    assert 'Access rules of share instance %s are in sync' % inst_id in log
    _assert_absent(daemon, passwords + (key,))


def _wrong(url, password):
    return url.replace(password, _secret('WrongPw'))


def test_wrong_broker_password_is_not_logged(daemon_factory, secret_urls):
    mq_url, db_url, (mq_password, pg_password) = secret_urls
    bad_url = _wrong(mq_url, mq_password)
    bad_password = bad_url.split(':')[2].split('@')[0]
    daemon = daemon_factory(db_url, options={
        'DEFAULT': {'transport_url': bad_url}}, wait=False)
    daemon.wait_for(lambda: 'ACCESS_REFUSED' in daemon.log_text(),
                    timeout=60, message='refused AMQP login logged')
    daemon.stop()
    _assert_absent(daemon, (bad_password, mq_password, pg_password))


def test_wrong_database_password_is_not_logged(daemon_factory, secret_urls):
    mq_url, db_url, (mq_password, pg_password) = secret_urls
    daemon = daemon_factory(db_url, options={
        'DEFAULT': {'transport_url': mq_url}}, start=False)
    bad_url = _wrong(db_url, pg_password)
    bad_password = bad_url.split(':')[2].split('@')[0]
    daemon.configure({'database': {'connection': bad_url}})
    daemon.start(wait=False)

    def refused():
        text = daemon.log_text() + daemon.output_text()
        return 'password authentication failed' in text
    daemon.wait_for(refused, timeout=60, allow_exit=True,
                    message='refused database login reported')
    # KILL, not TERM: what is under test is the log, not how a daemon
    # still retrying its first database connection stops.
    daemon.kill()
    _assert_absent(daemon, (bad_password, mq_password, pg_password))


# ---------------------------------------------------------------------------
# localfs: nothing outside the pools is touched
# ---------------------------------------------------------------------------

def _snapshot_tree(root):
    """{relative path: (mode, size, mtime_ns, link target)} under ``root``."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames + ['.']:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            target = (os.readlink(path) if stat.S_ISLNK(st.st_mode)
                      else None)
            found[os.path.relpath(path, root)] = (
                st.st_mode, st.st_size, st.st_mtime_ns, target)
    return found


def test_localfs_manage_of_outside_paths_ends_in_manage_error(
        daemon_factory, fresh_db, tmp_path, pg_facade, share_rpc):
    pool = tmp_path / 'pools' / 'alpha'
    daemon = daemon_factory(fresh_db, options={'alpha': {
        'share_driver': 'localfs', 'localfs_pools': str(pool),
        'localfs_export_ips': '127.0.0.1'}})
    outside = tmp_path / 'outside'
    (outside / 'sub').mkdir(parents=True)
    (outside / 'precious').write_text('keep me')
    (outside / 'sub' / 'deeper').write_text('keep me too')
    os.symlink(outside, pool / 'evil-link')
    os.symlink(outside / 'sub', pool / 'evil-sub')
    before = _snapshot_tree(outside)
    state = daemon.options['DEFAULT']['state_path']

    escapes = ['127.0.0.1:%s/../../outside' % pool,      # '..' traversal
               '127.0.0.1:%s' % outside,                 # absolute, outside
               '127.0.0.1:%s' % (pool / 'evil-link'),    # symlink out
               '127.0.0.1:%s' % (pool / 'evil-link' / 'sub'),
               '127.0.0.1:%s' % (pool / 'evil-sub'),
               '127.0.0.1:/etc']
    shares = []
    for location in escapes:
        share = share_rows.share(pg_facade, daemon, 'manage_starting')
        pg_facade.export_locations_update(share_rows.admin_ctx(),
                                          share['instance']['id'], [location])
        share_rpc.manage_share(_ctx(), share, {})
        shares.append(share)
    for share, location in zip(shares, escapes):
        share_rows.wait_status(daemon, share['id'], 'manage_error')
    assert _snapshot_tree(outside) == before
    assert os.path.islink(pool / 'evil-link')
    for dirpath, _dirs, files in os.walk(state):
        for name in files:
            with open(os.path.join(dirpath, name), errors='replace') as f:
                text = f.read()
            assert str(outside) not in text and '/etc' not in text
