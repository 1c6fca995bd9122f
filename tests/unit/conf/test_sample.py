"""The committed sample config matches what oslo-config-generator produces now."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]


def test_sample_config_is_current(tmp_path):
    out = tmp_path / 'sample.conf'
    generator = pathlib.Path(sys.executable).parent / 'oslo-config-generator'
    result = subprocess.run(
        [str(generator), '--config-file',
         str(ROOT / 'etc/oslo-config-generator/manila-lite.conf'),
         '--output-file', str(out)], capture_output=True, text=True,
        cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    committed = (ROOT / 'etc/manila-lite/manila-lite.conf.sample').read_text()
    assert out.read_text() == committed, (
        'etc/manila-lite/manila-lite.conf.sample is stale: run tox -e '
        'genconfig')


def test_every_backend_option_is_listed():
    from manila_lite.conf import opts
    names = {opt.dest for _group, group_opts in opts.list_opts()
             for opt in group_opts}
    for name in ('share_driver', 'driver_handles_share_servers',
                 'share_backend_name', 'enabled_share_backends', 'host',
                 'report_interval', 'periodic_interval',
                 'periodic_fuzzy_delay', 'service_down_time', 'state_path',
                 'storage_availability_zone', 'share_topic',
                 'scheduler_topic', 'backend_url',
                 'dummy_driver_default_driver_method_delay'):
        assert name in names, name
