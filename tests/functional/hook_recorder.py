"""A hook driver for the functional tests.

Appends every call to a JSON-lines file in the daemon's state_path and raises
where a control file there says so.
"""

import json
import os

from oslo_config import cfg

from manila_lite.share import hook

PATH = 'tests.functional.hook_recorder.RecordingHook'
RECORD = 'hook_calls.jsonl'
CONTROL = 'hook_failures.json'     # {"pre": [func names], "post": [...],
#                                     "periodic": ["periodic"]}


def _path(name):
    os.makedirs(cfg.CONF.state_path, exist_ok=True)
    return os.path.join(cfg.CONF.state_path, name)


def _failing():
    try:
        with open(_path(CONTROL)) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


class RecordingHook(hook.HookBase):
    """Records pre, post and periodic calls; fails those the control file names."""

    def _record(self, kind, func_name, **details):
        entry = {'kind': kind, 'func': func_name, 'host': self.host}
        entry.update(details)
        with open(_path(RECORD), 'a') as f:
            f.write(json.dumps(entry, default=repr) + '\n')
        if func_name in _failing().get(kind, ()):
            raise RuntimeError('hook_recorder: injected %s hook failure of '
                               '%s' % (kind, func_name))

    def _execute_pre_hook(self, context, func_name, *args, **kwargs):
        self._record('pre', func_name, kwargs=sorted(kwargs),
                     share_instance_id=kwargs.get('share_instance_id'))
        return 'pre-data-%s' % func_name

    def _execute_post_hook(self, context, func_name, pre_hook_data,
                           driver_action_results, *args, **kwargs):
        if not isinstance(pre_hook_data, (str, type(None))):
            pre_hook_data = type(pre_hook_data).__name__
        self._record('post', func_name, pre_hook_data=pre_hook_data,
                     share_instance_id=kwargs.get('share_instance_id'))

    def _execute_periodic_hook(self, context, periodic_hook_data, *args,
                               **kwargs):
        self._record('periodic', 'periodic',
                     instances=sorted(i['id'] for i in
                                      periodic_hook_data or []))


def calls(state_path):
    """The recorded calls of the daemon whose state_path this is."""
    try:
        with open(os.path.join(state_path, RECORD)) as f:
            return [json.loads(line) for line in f if line.endswith('\n')]
    except FileNotFoundError:
        return []


def set_failures(state_path, **failing):
    """Make the named hooks raise from now on (atomically replaced)."""
    os.makedirs(state_path, exist_ok=True)
    tmp = os.path.join(state_path, CONTROL + '.tmp')
    with open(tmp, 'w') as f:
        json.dump(failing, f)
    os.replace(tmp, os.path.join(state_path, CONTROL))
