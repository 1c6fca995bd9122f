"""Demo run on the embedded default: a loopback RabbitMQ, SQLite, one localfs backend (pool under state/), one share through it."""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tools'))

import local_services  # noqa: E402

STATE = ROOT / 'state'
BIN = pathlib.Path(sys.executable).parent
BACKEND = 'local'

CONFIG = """\
[DEFAULT]
host = {host}
enabled_share_backends = {backend}
transport_url = {url}
state_path = {state}
report_interval = 2
periodic_interval = 10
periodic_fuzzy_delay = 0
log_file = {state}/manila-lite-share.log

[oslo_concurrency]
lock_path = {state}/locks

[{backend}]
share_driver = localfs
share_backend_name = {backend}
driver_handles_share_servers = False
localfs_pools = {state}/pools/{backend}
localfs_export_ips = 127.0.0.1
"""


def manage(conf, *args, check=True):
    cmd = [str(BIN / 'manila-lite-manage'), '--config-file', str(conf)]
    cmd += list(args)
    print('$ manila-lite-manage ' + ' '.join(args), flush=True)
    result = subprocess.run(cmd, text=True, capture_output=True)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if check and result.returncode != 0:
        raise SystemExit('demo: manila-lite-manage %s failed' % args[0])
    return result.stdout


def show_directory(create_output):
    """Print ``ls -ld`` of the directory behind the share's export location."""
    location = next(line.split()[0] for line in create_output.splitlines()
                    if line.startswith('  127.0.0.1:'))
    directory = location.partition(':')[2]
    print('demo: the export location %s is a real directory:' % location)
    print('$ ls -ld ' + directory, flush=True)
    subprocess.run(['ls', '-ld', directory])
    return directory


def wait_for_service(conf, host, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cmd = [str(BIN / 'manila-lite-manage'), '--config-file', str(conf),
               'service', 'list']
        out = subprocess.run(cmd, text=True, capture_output=True).stdout
        if any(host in line and ':-)' in line for line in out.splitlines()):
            return out
        time.sleep(1)
    raise SystemExit('demo: the daemon did not come up; see %s'
                     % (STATE / 'manila-lite-share.log'))


def main():
    STATE.mkdir(exist_ok=True)
    host = socket.gethostname()
    print('demo: starting RabbitMQ on 127.0.0.1 (state in %s)' % STATE,
          flush=True)
    broker = local_services.start_rabbitmq(str(STATE / 'rabbitmq'))
    daemon = None
    try:
        conf = STATE / 'manila-lite.conf'
        conf.write_text(CONFIG.format(host=host, backend=BACKEND,
                                      url=broker.url, state=STATE))
        print('demo: config written to %s' % conf)
        manage(conf, 'db', 'sync')
        print('$ manila-lite-share --config-file %s &' % conf, flush=True)
        daemon = subprocess.Popen(
            [str(BIN / 'manila-lite-share'), '--config-file', str(conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        sys.stdout.write(wait_for_service(conf, '%s@%s' % (host, BACKEND)))
        out = manage(conf, 'share', 'create', '--size', '1', '--proto', 'NFS',
                     '--name', 'demo', '--host',
                     '%s@%s#%s' % (host, BACKEND, BACKEND), '--wait', '60')
        share_id = next(line.split()[-1] for line in out.splitlines()
                        if line.strip().startswith('id'))
        manage(conf, 'share', 'show', share_id)
        directory = show_directory(out)
        manage(conf, 'share', 'delete', share_id, '--wait', '60')
        print('demo: done. The share went creating -> available -> deleted '
              'through the daemon; %s is %s.' % (
                  directory, 'still there' if os.path.exists(directory)
                  else 'gone'))
    finally:
        if daemon is not None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
            print('demo: daemon stopped (exit %s)' % daemon.returncode)
        broker.stop()
        print('demo: RabbitMQ stopped')


if __name__ == '__main__':
    os.chdir(ROOT)
    main()
