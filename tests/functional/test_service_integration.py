"""How the daemon fits a host: systemd readiness notification once its backends started (none on a failed start); log lines name the share."""

import os
import socket

import pytest

from tests.functional import share_rows as rows

pytestmark = pytest.mark.functional

BOUND = 60.0


@pytest.fixture
def notify_socket(tmp_path, monkeypatch):
    """A datagram socket standing in for systemd's NOTIFY_SOCKET."""
    path = str(tmp_path / 'notify')
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(BOUND)
    monkeypatch.setenv('NOTIFY_SOCKET', path)
    yield sock
    sock.close()


def test_ready_is_notified_once_serving(daemon_factory, fresh_db,
                                        notify_socket):
    daemon = daemon_factory(fresh_db, start=False)
    daemon.start(wait=False)
    assert notify_socket.recv(512) == b'READY=1'
    # Notified after start-up: registered and serving.
    daemon.wait_ready()
    assert daemon.db.scalar('SELECT count(*) FROM services WHERE host = :h',
                            h=daemon.service_hosts[0]) == 1


def test_no_ready_when_start_up_fails(daemon_factory, fresh_db,
                                      notify_socket):
    daemon = daemon_factory(fresh_db, db_sync=False, start=False)
    daemon.start(wait=False)
    assert daemon.proc.wait(timeout=BOUND) == 1
    notify_socket.settimeout(0)
    with pytest.raises(BlockingIOError):
        notify_socket.recv(512)


def test_log_lines_name_the_share_beside_the_instance(
        daemon_factory, fresh_db, pg_facade, share_rpc):
    daemon = daemon_factory(fresh_db)
    share = rows.available_share(pg_facade, daemon, share_rpc)
    tag = '[share instance %s of share %s] ' % (share['instance']['id'],
                                                share['id'])
    tagged = [line for line in daemon.log_text().splitlines() if tag in line]
    assert tagged, daemon.log_text()[-3000:]
    assert any('create_share_instance' in line or 'created' in line.lower()
               for line in tagged), tagged
    assert os.path.exists(daemon.log_path)
