"""The daemon's entry point: backend selection and start-up refusal of bad configurations."""

import subprocess
import sys

import pytest


def _run_python(code, env=None):
    return subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, env=env, timeout=60)


def test_entry_point_does_not_import_eventlet():
    result = _run_python(
        'import sys, manila_lite.cmd.share, manila_lite.service;'
        'import oslo_service.backend as b;'
        'print("eventlet" in sys.modules, b.get_backend_type().value)')
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['False', 'threading']


def test_eventlet_opt_in_is_honoured():
    import os
    env = dict(os.environ, OS_MANILA_DISABLE_EVENTLET_PATCHING='0')
    result = _run_python(
        'import manila_lite.cmd.share, oslo_service.backend as b;'
        'print(b.get_backend_type().value)', env=env)
    if 'No module named' in result.stderr and 'eventlet' in result.stderr:
        pytest.skip('eventlet is not installed')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'eventlet'


GOOD = """
[DEFAULT]
host = h
enabled_share_backends = alpha
state_path = {tmp}
transport_url = fake://
[alpha]
share_driver = dummy
driver_handles_share_servers = False
"""


@pytest.mark.parametrize('mutate, section, option', [
    (lambda t: t.replace('enabled_share_backends = alpha',
                         'enabled_share_backends = alpha,beta'),
     'DEFAULT', 'enabled_share_backends'),
    (lambda t: t.replace('share_driver = dummy',
                         'share_driver = no.such.Driver'),
     'alpha', 'share_driver'),
    (lambda t: t.replace('driver_handles_share_servers = False',
                         'driver_handles_share_servers = perhaps'),
     'alpha', 'driver_handles_share_servers'),
    (lambda t: t.replace('driver_handles_share_servers = False', ''),
     'alpha', 'driver_handles_share_servers'),
    (lambda t: t + '\n[DEFAULT]\nreport_interval = often\n',
     'DEFAULT', 'report_interval'),
])
def test_bad_config_stops_with_one_line(tmp_path, mutate, section, option):
    conf = tmp_path / 'bad.conf'
    conf.write_text(mutate(GOOD.format(tmp=tmp_path)))
    result = subprocess.run(
        [sys.executable, '-m', 'manila_lite.cmd.share', '--config-file',
         str(conf)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert section in lines[0] and option in lines[0], lines[0]
