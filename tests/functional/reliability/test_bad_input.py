"""Bad RPC input against the real daemon, RabbitMQ and PostgreSQL: fuzzed keyword arguments for every RPC method and malformed request contexts.

Hypothesis generates, for every RPC method of ``ShareManager`` (sent at
the version ``ShareAPI`` uses for it), keyword arguments that are wrong
types, huge or control-character strings, missing required arguments,
unknown extra arguments, or well-typed ids of resources that do not
exist, with a request context that is well formed or malformed (keys
missing, wrong types, huge strings). Each message goes out through a raw
oslo.messaging RPCClient to ``manila-share`` / ``host@backend``, as a
``call`` (which must get an error back, not a timeout) or a ``cast``.
The run is bounded (a fixed number of derandomized examples).

Afterwards: the daemon is alive and answers a good ``call``; every table
is as it was before, except new user messages about the ids the messages
named; the daemon logged exactly one line at warning level or above for
each bad message, carrying its request id, and no traceback or
continuation line at all.
"""

import ast
import inspect
import os
import re
import uuid

from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
from oslo_config import cfg
import oslo_messaging as messaging
import pytest

from manila_lite import rpc
from manila_lite.share import guard
from manila_lite.share import manager as share_manager
from manila_lite.share import rpcapi
from tests.functional import share_rows as rows

pytestmark = pytest.mark.functional

_EXAMPLES = 400
_CALL_TIMEOUT = 20
_LEVELS = (' ERROR ', ' WARNING ', ' CRITICAL ')
_REQUEST_ID = re.compile(r'req-[0-9a-f]{8}-[0-9a-f-]{27}')
# Rows that change by themselves while the daemon runs.
_VOLATILE_TABLES = ('services', 'messages')


def _rpc_methods():
    """{name: inspect.Signature} of every RPC method of the share manager."""
    return {name: func.rpc_signature
            for name, func in inspect.getmembers(share_manager.ShareManager)
            if hasattr(func, 'rpc_signature')}


def _rpc_versions():
    """{method: version} as ShareAPI sends them (read from rpcapi.py)."""
    with open(rpcapi.__file__) as f:
        tree = ast.parse(f.read())
    versions = {'publish_service_capabilities': '1.0'}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and
                getattr(node.func, 'attr', None) in ('_cast', '_call')):
            version, method = node.args[2].value, node.args[3].value
            versions[method] = version or '1.0'
    return versions


METHODS = _rpc_methods()
VERSIONS = _rpc_versions()

# -- values ---------------------------------------------------------------------

unknown_ids = st.uuids().map(str)
huge = st.integers(min_value=300, max_value=120_000).map(lambda n: 'x' * n)
odd_text = st.text(st.characters(codec='utf-8'), max_size=40)
junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), odd_text, huge,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))


def _plausible(name, host):
    """A well-typed value for argument ``name`` naming nothing that exists."""
    if name in guard._BOOL_ARGS:
        return st.booleans()
    if name in ('share_server', 'backup'):
        return st.fixed_dictionaries({'id': unknown_ids,
                                      'host': st.just(host),
                                      'share_id': unknown_ids})
    if name in guard._DICT_ARGS:
        return st.dictionaries(st.text(max_size=8), odd_text, max_size=3)
    if name == 'share_instance_ids':
        return st.lists(unknown_ids, min_size=1, max_size=3)
    if name == 'reservations':
        return st.lists(unknown_ids, max_size=2)
    if name == 'new_size':
        return st.integers(min_value=1, max_value=100)
    if name.endswith('_id'):
        return unknown_ids
    return odd_text


@st.composite
def kwargs_for(draw, method, host):
    """Keyword arguments for ``method``: plausible or junk, some dropped, some extra."""
    params = list(METHODS[method].parameters.values())[2:]
    kwargs = {}
    for param in params:
        if param.default is not inspect.Parameter.empty and draw(
                st.booleans()):
            continue                      # optional: left out
        if param.default is inspect.Parameter.empty and draw(
                st.integers(0, 9)) == 0:
            continue                      # required: missing
        kwargs[param.name] = draw(st.one_of(_plausible(param.name, host),
                                            junk))
    kwargs.update(draw(st.dictionaries(
        st.from_regex(r'\Azz_[a-z]{1,8}\Z'), junk, max_size=1)))
    return kwargs


def _is_bad(method, kwargs, host):
    """True when the message cannot succeed: a bad argument or an unknown id."""
    if _is_invalid(method, kwargs):
        return True
    # Every argument is well typed: only an id that names nothing makes it
    # fail, and ids are drawn from fresh uuids.
    return bool(guard._resource_ids(kwargs) or
                {'backup', 'share_server'} & set(kwargs))


def _is_invalid(method, kwargs):
    """True when the guard refuses the arguments (unknown, missing or mistyped)."""
    params = list(METHODS[method].parameters.values())[2:]
    names = {p.name for p in params}
    if set(kwargs) - names:
        return True
    if any(p.default is inspect.Parameter.empty and p.name not in kwargs
           for p in params):
        return True
    try:
        for name, value in kwargs.items():
            guard._check_argument(name, value,
                                  METHODS[method].parameters[name].default
                                  is None)
    except Exception:
        return True
    return False


# -- contexts -------------------------------------------------------------------

_CONTEXT_KEYS = ('user', 'user_id', 'project_id', 'project', 'is_admin',
                 'roles', 'read_deleted', 'timestamp', 'service_catalog',
                 'auth_token', 'remote_address', 'show_deleted',
                 'user_identity', 'quota_class', 'global_request_id')


@st.composite
def contexts(draw):
    """A user context dict, sometimes malformed (request_id is set by the sender)."""
    ctx = rows.user_ctx().to_dict()
    if draw(st.integers(0, 2)) == 0:
        return ctx
    for key in draw(st.sets(st.sampled_from(_CONTEXT_KEYS), max_size=3)):
        ctx.pop(key, None)
    for key in draw(st.sets(st.sampled_from(_CONTEXT_KEYS), max_size=3)):
        ctx[key] = draw(junk)
    return ctx


# -- the run --------------------------------------------------------------------

class Sender:
    """A raw RPC client to one daemon; remembers every message it sent."""

    def __init__(self, daemon):
        self.daemon = daemon
        self.transport = messaging.get_rpc_transport(
            cfg.CONF, url=daemon.options['DEFAULT']['transport_url'],
            allowed_remote_exmods=rpc.get_allowed_exmods())
        self.client = messaging.get_rpc_client(
            self.transport, messaging.Target(
                topic='manila-share', server=daemon.service_hosts[0]),
            serializer=rpc.RequestContextSerializer(mark=True))
        self.sent = []              # (request_id, method, kwargs, kind)
        self.named = set()          # every string the messages carried

    def send(self, method, kwargs, ctx, call, version=None,
             request_id=True):
        """Send one message; ``request_id=False`` keeps the context's own (odd) one."""
        if request_id:
            request_id = 'req-%s' % uuid.uuid4()
            ctx = dict(ctx, request_id=request_id)
            self.sent.append((request_id, method, kwargs, call))
        self._remember(kwargs)
        cctxt = self.client.prepare(version=version or VERSIONS[method],
                                    timeout=_CALL_TIMEOUT)
        if not call:
            cctxt.cast(ctx, method, **kwargs)
            return None
        try:
            result = cctxt.call(ctx, method, **kwargs)
        except messaging.MessagingTimeout:
            raise AssertionError('%s (%s) was not answered' % (method,
                                                               request_id))
        except Exception as exc:
            return exc
        raise AssertionError('%s(%r) succeeded: %r' % (method, kwargs,
                                                       result))

    def _remember(self, value):
        if isinstance(value, str):
            self.named.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                self._remember(item)
        elif isinstance(value, list):
            for item in value:
                self._remember(item)

    def cleanup(self):
        self.transport.cleanup()


def _table_rows(db):
    """{table: sorted rows as tuples of text} of every table but the volatile ones."""
    out = {}
    for table in sorted(db.tables() - set(_VOLATILE_TABLES)):
        out[table] = sorted(tuple(map(str, r.values()))
                            for r in db.rows('SELECT * FROM "%s"' % table))
    return out


def _real_rows(pg, daemon, share_rpc):
    """An available share with an active rule and an available snapshot."""
    share = rows.available_share(pg, daemon, share_rpc)
    inst = share['instance']
    rule = pg.share_access_create(rows.admin_ctx(), {
        'share_id': share['id'], 'access_type': 'ip',
        'access_to': '10.0.0.1', 'access_level': 'rw'})
    pg.share_instance_access_rules_status_update(rows.admin_ctx(), inst['id'],
                                                 ['active'], 'syncing')
    share_rpc.update_access(rows.user_ctx(), inst)
    snapshot = pg.share_snapshot_create(rows.admin_ctx(), {
        'share_id': share['id'], 'size': 1, 'user_id': 'u1',
        'project_id': 'p1', 'status': 'creating', 'progress': '0%',
        'share_size': 1, 'display_name': 'snap', 'share_proto': 'NFS'})
    share_rpc.create_snapshot(rows.user_ctx(), share, snapshot)
    daemon.wait_for(lambda: daemon.db.scalar(
        "SELECT state FROM share_instance_access_map WHERE access_id = :a",
        a=rule['id']) == 'active' and daemon.db.scalar(
        'SELECT status FROM share_snapshot_instances WHERE snapshot_id = :s',
        s=snapshot['id']) == 'available', message='real rows ready')
    return share


def _fuzz(sender, host):
    @settings(max_examples=_EXAMPLES, derandomize=True, deadline=None,
              database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        method = data.draw(st.sampled_from(sorted(METHODS)), label='method')
        kwargs = data.draw(kwargs_for(method, host), label='kwargs')
        if not _is_bad(method, kwargs, host):
            kwargs['zz_extra'] = 1
        ctx = data.draw(contexts(), label='context')
        call = data.draw(st.integers(0, 3), label='call') > 0
        sender.send(method, kwargs, ctx, call)
    run()


def _extra_messages(sender):
    """Unknown methods and versions, and contexts with one bad field each."""
    good = rows.user_ctx().to_dict()
    sender.send('no_such_method', {}, good, True, version='1.0')
    sender.send('no_such_method', {'a': 1}, good, False, version='1.0')
    sender.send('update_access', {'share_instance_id': 'x'}, good, True,
                version='1.99')
    sender.send('update_access', {'share_instance_id': 'x'}, good, False,
                version='2.0')
    for name in ('line\nbreak', 'x\r\n2026-01-01 00:00:00.000 1 ERROR fake',
                 'nul\x00', 'sep\u2028'):
        sender.send('update_access', {'share_instance_id': name}, good, True)
        sender.send('delete_snapshot', {'snapshot_id': name}, good, False)
    for odd in ({'request_id': 12345}, {'request_id': 'r' * 70000},
                {'request_id': None}):
        sender.send('update_access', {'share_instance_id': 'x'},
                    dict(good, **odd), True, request_id=False)
    for key, value in (('roles', 'admin'), ('read_deleted', 'never'),
                       ('timestamp', 'yesterday'), ('is_admin', [1]),
                       ('user_id', {'a': 1}), ('project_id', 'p' * 70000)):
        sender.send('update_access', {'share_instance_id': str(uuid.uuid4())},
                    dict(good, **{key: value}), True)


def _wait_logged(daemon, sender):
    """Wait until every message (casts too) left its line; return the log lines."""
    def logged():
        text = daemon.log_text()
        return all(rid in text for rid, *_ in sender.sent) and text
    text = daemon.wait_for(logged, timeout=120, interval=0.5,
                           message='a log line for every bad message')
    return text.split('\n')[:-1]


def _expected_lines(method, kwargs):
    """One line per bad message; update_access_for_instances adds one per further failed instance.

    (The share server is looked up first: an unknown one is the only line.)
    """
    if (method == 'update_access_for_instances' and method in METHODS and
            not _is_invalid(method, kwargs) and
            kwargs.get('share_server_id') is None):
        return len(set(kwargs['share_instance_ids']))
    return 1


def _check_log(lines, sender):
    stray = [line for line in lines if not line[:4].isdigit()]
    assert not stray, 'continuation or traceback lines:\n%s' % '\n'.join(
        stray[:20])
    counts = {rid: 0 for rid, *_ in sender.sent}
    for line in lines:
        if not any(level in line for level in _LEVELS):
            continue
        for rid in set(_REQUEST_ID.findall(line)):
            if rid in counts:
                counts[rid] += 1
    wrong = {(rid, method, kind): counts[rid]
             for rid, method, kwargs, kind in sender.sent
             if counts[rid] != _expected_lines(method, kwargs)}
    shown = [line for line in lines if any(rid in line for rid, *_ in
                                           list(wrong)[:6])]
    assert not wrong, '%r\n%s' % (wrong, '\n'.join(shown))


def _check_tables(before, after):
    assert set(before) == set(after)
    changed = [t for t in before if before[t] != after[t]]
    assert not changed, changed


def _check_messages(daemon, before_messages, sender):
    new = [m for m in daemon.db.rows('SELECT * FROM messages')
           if m['id'] not in before_messages]
    assert all(m['resource_id'] in sender.named for m in new), new


def test_fuzzed_rpc_input(fresh_db, pg_facade, daemon_factory, share_rpc):
    daemon = daemon_factory(fresh_db)
    share = _real_rows(pg_facade, daemon, share_rpc)
    before = _table_rows(daemon.db)
    before_messages = {m['id'] for m in daemon.db.rows(
        'SELECT id FROM messages')}
    sender = Sender(daemon)
    try:
        _fuzz(sender, daemon.pool_host())
        _extra_messages(sender)
        lines = _wait_logged(daemon, sender)
        assert daemon.running
        info = share_rpc.connection_get_info(rows.user_ctx(),
                                             share['instance'])
        assert isinstance(info, dict)
    finally:
        sender.cleanup()
    _check_log(lines, sender)
    _check_tables(before, _table_rows(daemon.db))
    _check_messages(daemon, before_messages, sender)
    assert os.path.getsize(daemon.output_path) == 0 or \
        'Traceback' not in daemon.output_text()
