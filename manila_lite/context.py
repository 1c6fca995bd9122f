"""RequestContext on oslo.context, wire-compatible with the dict upstream's clients serialize."""

import copy

from oslo_context import context as oslo_context
from oslo_utils import timeutils

_READ_DELETED = ('no', 'yes', 'only')
# Wire fields that must be strings (or null); ids at most 255 characters,
# the width of the columns they end up in.
_ID_FIELDS = ('user', 'user_id', 'project', 'project_id', 'domain_id',
              'request_id', 'global_request_id', 'user_domain',
              'project_domain', 'user_domain_id', 'project_domain_id',
              'resource_uuid', 'quota_class')
_TEXT_FIELDS = ('auth_token', 'project_name', 'remote_address', 'timestamp',
                'system_scope', 'user_name', 'domain_name',
                'user_domain_name', 'project_domain_name', 'read_deleted')
_BOOL_FIELDS = ('is_admin', 'is_admin_project', 'read_only', 'show_deleted')
_MAX_ID = 255


def _check_wire_values(values):
    """Raise ValueError when a serialized context field has the wrong type or size."""
    for key in _ID_FIELDS + _TEXT_FIELDS:
        value = values.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError('%s must be a string, not %s'
                             % (key, type(value).__name__))
        if key in _ID_FIELDS and value is not None and len(value) > _MAX_ID:
            raise ValueError('%s is longer than %d characters'
                             % (key, _MAX_ID))
    for key in _BOOL_FIELDS:
        if values.get(key) is not None and not isinstance(values[key], bool):
            raise ValueError('%s must be a boolean' % key)
    for key in ('roles', 'service_catalog'):
        if values.get(key) is not None and not isinstance(values[key], list):
            raise ValueError('%s must be a list' % key)
    if not all(isinstance(r, str) for r in values.get('roles') or []):
        raise ValueError('roles must be strings')


class RequestContext(oslo_context.RequestContext):
    """Security context and request information of one RPC message."""

    def __init__(self, user_id=None, project_id=None, is_admin=None,
                 read_deleted='no', project_name=None, remote_address=None,
                 timestamp=None, quota_class=None, service_catalog=None,
                 domain_id=None, **kwargs):
        kwargs.setdefault('user_id', user_id)
        kwargs.setdefault('project_id', project_id)
        kwargs.setdefault('project_name', project_name)
        kwargs.setdefault('domain_id', domain_id)
        # Everything that may fail is done before oslo.context stores this
        # context as the thread's current one (which log lines read).
        if read_deleted not in _READ_DELETED:
            raise ValueError('read_deleted can only be one of no, yes or '
                             'only, not %r' % (read_deleted,))
        if not timestamp:
            timestamp = timeutils.utcnow()
        elif isinstance(timestamp, str):
            timestamp = timeutils.parse_isotime(timestamp).replace(tzinfo=None)
        if is_admin is None:
            is_admin = 'admin' in [r.lower() for r in kwargs.get('roles')
                                   or []]
        super().__init__(is_admin=bool(is_admin), **kwargs)
        self.read_deleted = read_deleted
        self.remote_address = remote_address
        self.timestamp = timestamp
        self.quota_class = quota_class
        self.service_catalog = [
            s for s in (service_catalog or [])
            if isinstance(s, dict) and s.get('type') in ('compute', 'volume')]

    def redacted_copy(self, **kwargs):
        """A copy without secrets (oslo.messaging's notifier sends one) that leaves the thread's current context alone.

        oslo.context's copy would become the thread's current context,
        and the request's later log lines would lose its resource tag.
        """
        kwargs.setdefault('overwrite', False)
        return super().redacted_copy(**kwargs)

    @property
    def read_deleted(self):
        return self._read_deleted

    @read_deleted.setter
    def read_deleted(self, value):
        if value not in _READ_DELETED:
            raise ValueError('read_deleted can only be one of no, yes or '
                             'only, not %r' % (value,))
        self._read_deleted = value

    def to_dict(self):
        values = super().to_dict()
        values.update({
            'user_id': self.user_id,
            'project_id': self.project_id,
            'project_name': self.project_name,
            'domain_id': self.domain_id,
            'read_deleted': self.read_deleted,
            'remote_address': self.remote_address,
            'timestamp': self.timestamp.isoformat(),
            'quota_class': self.quota_class,
            'service_catalog': self.service_catalog,
            'is_admin': self.is_admin,
        })
        return values

    @classmethod
    def from_dict(cls, values):
        """Rebuild a context from upstream's serialized dict (unknown keys ignored)."""
        if not isinstance(values, dict):
            raise ValueError('a request context must be a dict')
        _check_wire_values(values)
        kwargs = {}
        for key in ('user_id', 'project_id', 'project_name', 'domain_id',
                    'remote_address', 'timestamp', 'quota_class',
                    'service_catalog', 'is_admin'):
            if key in values:
                kwargs[key] = values[key]
        kwargs['user_id'] = values.get('user_id', values.get('user'))
        kwargs['project_id'] = values.get('project_id', values.get('project'))
        kwargs['read_deleted'] = values.get('read_deleted') or 'no'
        for key in ('auth_token', 'request_id', 'global_request_id', 'roles',
                    'user_domain_id', 'project_domain_id', 'is_admin_project',
                    'read_only', 'show_deleted', 'system_scope',
                    'resource_uuid', 'user_name', 'domain_name',
                    'user_domain_name', 'project_domain_name'):
            if key in values:
                kwargs[key] = values[key]
        if 'user_domain' in values and 'user_domain_id' not in kwargs:
            kwargs['user_domain_id'] = values['user_domain']
        if 'project_domain' in values and 'project_domain_id' not in kwargs:
            kwargs['project_domain_id'] = values['project_domain']
        if kwargs.get('roles') is None:
            kwargs['roles'] = []
        if kwargs.get('request_id') is None:
            kwargs.pop('request_id', None)
        return cls(**kwargs)

    def elevated(self, read_deleted=None):
        """Return an admin copy of this context (request id kept).

        The copy shares only immutable values: its containers (roles,
        service catalog...) are copied deeply, the rest is not walked
        (a whole deepcopy cost a tenth of a share creation's CPU).
        """
        ctx = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, (list, dict, set)):
                vars(ctx)[name] = copy.deepcopy(value)
        ctx.is_admin = True
        if 'admin' not in ctx.roles:
            ctx.roles = list(ctx.roles) + ['admin']
        if read_deleted is not None:
            ctx.read_deleted = read_deleted
        return ctx


def get_admin_context(read_deleted='no'):
    """Return a context for the service's own work (no user, admin)."""
    return RequestContext(user_id=None, project_id=None, is_admin=True,
                          read_deleted=read_deleted, roles=['admin'],
                          overwrite=False)


def tag_resource(context, kind, resource_id):
    """Make every log line of this request name its resource: ``[<kind> <id>] `` (oslo.log's instance_uuid_format)."""
    try:
        context.resource_uuid = ('%s %s' % (kind, resource_id))[:_MAX_ID]
    except AttributeError:
        pass


def tag_share_of(context, instance):
    """Add the share id (what users and the API show) to the tag of a request about this share instance.

    Also on the thread's current context (the one log lines read), which
    a flow's elevated or copied context is not.
    """
    share_id = instance.get('share_id') if instance is not None else None
    if not share_id:
        return
    plain = 'share instance %s' % instance.get('id')
    for ctx in (context, oslo_context.get_current()):
        if getattr(ctx, 'resource_uuid', None) == plain:
            tag_resource(ctx, 'share instance',
                         '%s of share %s' % (instance['id'], share_id))
