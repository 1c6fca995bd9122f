"""Upstream's manila-data from the upstream venv, run on a given database and broker (interop tests and the host-assisted benchmark)."""

import contextlib
import os
import subprocess
import time

from tests.functional import fixtures


def _write_conf(path, lines):
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def _stop(proc, mounts):
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for entry in os.listdir(mounts):
        subprocess.run(['umount', os.path.join(mounts, entry)],
                       capture_output=True)


@contextlib.contextmanager
def running(upstream_python, db_url, transport_url, workdir, db):
    """Start manila-data, wait till it registered in ``db`` (a Daemon's DB handle); yield ``{'log', 'mounts'}``; stop it and undo its mounts."""
    workdir = str(workdir)
    mounts = os.path.join(workdir, 'mnt')
    os.makedirs(mounts, exist_ok=True)
    conf = os.path.join(workdir, 'manila-data.conf')
    log = os.path.join(workdir, 'manila-data.log')
    _write_conf(conf, [
        '[DEFAULT]', 'host = interop-data',
        'transport_url = %s' % transport_url,
        'state_path = %s' % workdir, 'log_file = %s' % log, 'debug = True',
        'report_interval = 1', 'data_node_access_ips = 127.0.0.1',
        'mount_tmp_location = %s/' % mounts,
        'data_access_wait_access_rules_timeout = 60',
        '[database]', 'connection = %s' % db_url,
        '[oslo_concurrency]',
        'lock_path = %s' % os.path.join(workdir, 'locks')])
    binary = os.path.join(os.path.dirname(upstream_python), 'manila-data')
    proc = subprocess.Popen(
        [binary, '--config-file', conf], stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT, start_new_session=True,
        env=dict(os.environ, PYTHONWARNINGS='ignore::DeprecationWarning'))
    try:
        fixtures.wait_for(
            lambda: proc.poll() is not None or db.scalar(
                "SELECT count(*) FROM services WHERE "
                '"binary" = \'manila-data\' AND deleted = 0') > 0,
            timeout=60, message='upstream manila-data never registered')
        assert proc.poll() is None, 'manila-data exited:\n%s' % (
            fixtures.tail(log))
        time.sleep(1)       # its RPC consumer starts after the row
        yield {'log': log, 'mounts': mounts}
    finally:
        _stop(proc, mounts)
