"""Access of localfs shares and snapshots: rule checks, the exports and Samba include files the driver owns, and their persisted source.

The driver keeps one :class:`Record` per exported directory (share or
snapshot instance) in private storage (the ``drivers_private_data`` table)
and an index entity listing them, so the files can be rebuilt from the
database at any time: :meth:`Registry.load` at start-up, then every access
change rewrites both files atomically from the in-memory records.
"""

import collections
import ipaddress
import json
import os
import re
import threading
import uuid

from oslo_log import log

from manila_lite import exception
from manila_lite.share.drivers.localfs import fsops

LOG = log.getLogger(__name__)

SHARE = 'share'
SNAPSHOT = 'snapshot'
SERVER = 'server'      # a share server's namespace (DHSS=True); no rules
_RULE_PREFIX = 'rule:'
_INDEX_NAMESPACE = uuid.UUID('6c1f3d52-1b8e-4c57-9a63-4f0a6d1c2b7e')
_USER_RE = re.compile(r'^[A-Za-z0-9_.$@\\-]{1,64}$')
_HEADER = ('# Written by the manila_lite localfs driver of backend [%s].\n'
           '# Do not edit: the driver rewrites this file from its database '
           'state.\n')


def index_entity_id(backend_host):
    """The private-storage entity listing every record of one backend."""
    return str(uuid.uuid5(_INDEX_NAMESPACE, 'localfs-index:%s'
                          % backend_host))


class Rule(object):
    """One applied access rule: type, normalized target, level."""

    __slots__ = ('access_id', 'access_type', 'access_to', 'access_level')

    def __init__(self, access_id, access_type, access_to, access_level):
        self.access_id = access_id
        self.access_type = access_type
        self.access_to = access_to
        self.access_level = access_level

    def dump(self):
        return json.dumps([self.access_type, self.access_level,
                           self.access_to])

    @classmethod
    def load(cls, access_id, text):
        access_type, level, to = json.loads(text)
        return cls(access_id, access_type, to, level)


class Record(object):
    """What the driver knows of one exported directory."""

    def __init__(self, entity_id, kind, pool, path, proto, name, size=0,
                 rules=None, copy_source=None, server=None, addresses=None):
        self.entity_id = entity_id
        self.kind = kind
        self.pool = pool
        self.path = path
        self.proto = (proto or 'NFS').upper()
        self.name = name
        self.size = int(size or 0)
        self.rules = list(rules or [])
        self.copy_source = copy_source
        # the share server whose namespace holds the directory (DHSS=True)
        self.server = server
        # of a SERVER record: [[ip, is_admin], ...] it serves on
        self.addresses = [list(a) for a in addresses or []]

    def to_private(self):
        data = {'kind': self.kind, 'pool': self.pool, 'path': self.path,
                'proto': self.proto, 'name': self.name, 'size': self.size}
        if self.copy_source:
            data['copy_source'] = self.copy_source
        if self.server:
            data['server'] = self.server
        if self.addresses:
            data['addresses'] = json.dumps(self.addresses)
        for rule in self.rules:
            data[_RULE_PREFIX + rule.access_id] = rule.dump()
        return data

    @classmethod
    def from_private(cls, entity_id, data):
        rules = [Rule.load(key[len(_RULE_PREFIX):], value)
                 for key, value in sorted(data.items())
                 if key.startswith(_RULE_PREFIX)]
        return cls(entity_id, data.get('kind', SHARE), data.get('pool'),
                   data['path'], data.get('proto'), data.get('name'),
                   size=data.get('size') or 0, rules=rules,
                   copy_source=data.get('copy_source'),
                   server=data.get('server'),
                   addresses=json.loads(data.get('addresses') or '[]'))


def _ip_target(text):
    try:
        net = ipaddress.ip_network(str(text).strip(), strict=False)
    except ValueError:
        return None
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return str(net)


def check_rule(rule, proto, ipv6_enabled, readonly):
    """Return ``(Rule, None)`` for a rule the backend can apply, else ``(None, reason)``."""
    access_type = (rule['access_type'] or '').lower()
    level = (rule['access_level'] or 'rw').lower()
    if level not in ('rw', 'ro'):
        return None, 'access level %r is neither rw nor ro' % level
    if readonly:
        level = 'ro'
    if access_type == 'ip':
        target = _ip_target(rule['access_to'])
        if target is None:
            return None, '%r is not an IP address or network' % (
                rule['access_to'],)
        if ':' in target and not ipv6_enabled:
            return None, 'IPv6 rules need an IPv6 address in ' \
                         'localfs_export_ips'
        if proto == 'CIFS' and level == 'ro' and not readonly:
            return None, ('CIFS ip rules can only grant rw; use a user rule '
                          'for read-only access')
    elif access_type == 'user' and proto == 'CIFS':
        target = str(rule['access_to'] or '')
        if not _USER_RE.match(target):
            return None, '%r is not a valid user name' % (target,)
    else:
        return None, ('access type %r is not supported for %s shares '
                      '(NFS: ip; CIFS: ip, user)' % (access_type, proto))
    return Rule(rule['access_id'], access_type, target, level), None


def quote_path(path):
    if any(c in path for c in '"\n\r\t'):
        raise exception.ShareBackendException(
            msg='localfs cannot export %r: quotes and control characters '
                'are not allowed in exported paths' % path)
    return '"%s"' % path if (' ' in path or '#' in path) else path


def _header(backend, server):
    text = _HEADER % backend
    if server is not None:
        text += ('# Share server %s, serving on %s.\n'
                 % (server.entity_id,
                    ', '.join(ip for ip, _admin in server.addresses)
                    or 'no address'))
    return text


def render_exports(records, backend, options, server=None):
    """Text of the NFS exports file for every NFS record with rules (of one share server's namespace when ``server``)."""
    lines = [_header(backend, server)]
    for record in sorted(records, key=lambda r: r.path):
        if record.proto != 'NFS':
            continue
        clients = ['%s(%s%s)' % (rule.access_to, rule.access_level,
                                 ',' + options if options else '')
                   for rule in sorted(record.rules,
                                      key=lambda r: r.access_to)
                   if rule.access_type == 'ip']
        if clients:
            lines.append('%s %s\n' % (quote_path(record.path),
                                      ' '.join(clients)))
    return ''.join(lines)


def _samba_section(record):
    users = sorted({r.access_to for r in record.rules
                    if r.access_type == 'user'})
    readers = sorted({r.access_to for r in record.rules
                      if r.access_type == 'user' and r.access_level == 'ro'})
    hosts = sorted({r.access_to for r in record.rules
                    if r.access_type == 'ip'})
    writable = record.kind == SHARE and any(r.access_level == 'rw'
                                            for r in record.rules)
    lines = ['[%s]' % record.name,
             '    path = %s' % record.path,
             '    browseable = yes',
             '    guest ok = no',
             '    read only = %s' % ('no' if writable else 'yes')]
    if users:
        lines.append('    valid users = %s' % ' '.join(users))
    if readers:
        lines.append('    read list = %s' % ' '.join(readers))
    if hosts:
        lines.append('    hosts allow = %s' % ' '.join(hosts))
        lines.append('    hosts deny = ALL')
    return '\n'.join(lines) + '\n'


def render_samba(records, backend, server=None, includes=()):
    """Text of the Samba include file for every CIFS record with rules; the backend's file includes its servers' files."""
    parts = [_header(backend, server)]
    parts += ['include = %s\n' % path for path in includes]
    for record in sorted(records, key=lambda r: r.name or ''):
        if record.proto == 'CIFS' and record.rules:
            if any(c in record.path for c in '\n\r'):
                raise exception.ShareBackendException(
                    msg='localfs cannot share %r over CIFS' % record.path)
            parts.append('\n' + _samba_section(record))
    return ''.join(parts)


class Registry(object):
    """The records of one backend, in memory and in private storage."""

    def __init__(self, private_storage, backend_host):
        self.storage = private_storage
        self.index_id = index_entity_id(backend_host)
        self._records = {}
        self.lock = threading.RLock()

    def load(self):
        """Read every record of this backend from private storage (one read per record)."""
        index = self.storage.get(self.index_id) or {}
        records = {}
        for entity_id in index:
            data = self.storage.get(entity_id) or {}
            if not data.get('path'):
                LOG.warning('localfs record %s has no path; dropped from the '
                            'index.', entity_id)
                self.storage.delete(self.index_id, key=entity_id)
                continue
            try:
                records[entity_id] = Record.from_private(entity_id, data)
            except (ValueError, KeyError, TypeError) as exc:
                LOG.error('localfs record %(id)s is unreadable (%(exc)s); '
                          'its access rules will be reapplied.',
                          {'id': entity_id, 'exc': exc})
        with self.lock:
            self._records = records
        return list(records.values())

    def get(self, entity_id):
        with self.lock:
            return self._records.get(entity_id)

    def all(self):
        with self.lock:
            return list(self._records.values())

    def save(self, record):
        """Store ``record`` (replacing its previous version) in memory and private storage."""
        with self.lock:
            self.storage.update(record.entity_id, record.to_private(),
                                delete_existing=True)
            self.storage.update(self.index_id, {record.entity_id: record.kind})
            self._records[record.entity_id] = record

    def drop_forgotten(self, entity_ids):
        """Drop from memory the records of ``entity_ids`` no longer in private storage (another backend took them); return the others."""
        index = self.storage.get(self.index_id) or {}
        with self.lock:
            for entity_id in entity_ids:
                if entity_id not in index:
                    self._records.pop(entity_id, None)
        return [e for e in entity_ids if e in index]

    def forget(self, entity_id, keep_private=None):
        """Drop a record; ``keep_private`` keys of its private data survive."""
        with self.lock:
            self._records.pop(entity_id, None)
            self.storage.delete(self.index_id, key=entity_id)
            if keep_private:
                kept = self.storage.get(entity_id, key=list(keep_private))
                self.storage.update(entity_id, kept or {},
                                    delete_existing=True)
            else:
                self.storage.delete(entity_id)


class ExportWriter(object):
    """Writes the two files from the registry and asks the servers to reload them."""

    def __init__(self, registry, backend, exports_file, samba_file,
                 nfs_options, run, is_safe):
        self.registry = registry
        self.backend = backend
        self.exports_file = exports_file
        self.samba_file = samba_file
        self.nfs_options = nfs_options
        self._run = run
        self._is_safe = is_safe

    def _safe_records(self):
        records = []
        for record in self.registry.all():
            if self._is_safe(record):
                records.append(record)
            elif record.rules:
                LOG.error('localfs does not export %(path)s (%(id)s): it no '
                          'longer resolves inside its pool.',
                          {'path': record.path, 'id': record.entity_id})
        return records

    def server_files(self, server_id):
        """The exports and Samba files of one share server, beside the backend's own."""
        def beside(path, suffix):
            return os.path.join(os.path.dirname(path), '%s-server-%s%s'
                                % (self.backend, server_id, suffix))
        return (beside(self.exports_file, '.exports'),
                beside(self.samba_file, '-smb.conf'))

    @staticmethod
    def _write(path, text, what):
        with fsops.translated('write the %s' % what, path):
            fsops.atomic_write(path, text)

    def sync(self, nfs=True, cifs=True):
        """Rewrite the files (atomically) from the records; apply them.

        Records of a share server's namespace go to that server's own
        files; the backend's Samba file includes every server's one (and
        NFS reads the server files when the backend's exports file is in
        an ``exports.d`` directory).
        """
        with self.registry.lock:
            records = self._safe_records()
            servers = {r.entity_id: r for r in self.registry.all()
                       if r.kind == SERVER}
            grouped = collections.defaultdict(list)
            for record in records:
                grouped[record.server if record.server in servers
                        else None].append(record)
            includes = []
            for server_id, server in sorted(servers.items()):
                nfs_file, smb_file = self.server_files(server_id)
                mine = grouped.get(server_id, [])
                self._write(nfs_file, render_exports(
                    mine, self.backend, self.nfs_options, server),
                    'exports file of share server %s' % server_id)
                self._write(smb_file, render_samba(mine, self.backend,
                                                   server),
                            'Samba file of share server %s' % server_id)
                includes.append(smb_file)
            own = grouped.get(None, [])
            self._write(self.exports_file, render_exports(
                own, self.backend, self.nfs_options), 'exports file')
            self._write(self.samba_file, render_samba(
                own, self.backend, includes=includes), 'Samba include file')
            if nfs:
                self._run('nfs')
            if cifs:
                self._run('cifs')

    def blank_server(self, server_id):
        """Write one share server's files with no export at all and apply them (its shares are leaving by migration)."""
        nfs_file, smb_file = self.server_files(server_id)
        self._write(nfs_file, render_exports([], self.backend,
                                             self.nfs_options),
                    'exports file of share server %s' % server_id)
        self._write(smb_file, render_samba([], self.backend),
                    'Samba file of share server %s' % server_id)
        self._run('nfs')
        self._run('cifs')

    def remove_server_files(self, server_id):
        """Delete one share server's files (its record must be forgotten first)."""
        for path in self.server_files(server_id):
            with fsops.translated('remove the file of share server %s'
                                  % server_id, path):
                if os.path.lexists(path):
                    os.unlink(path)
