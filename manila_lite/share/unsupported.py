"""Loud refusal of RPC methods this service does not implement yet: error status, user message, exception."""

from oslo_log import log as logging

from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.message import api as message_api
from manila_lite.share import rows
from manila_lite.share import states

LOG = logging.getLogger(__name__)

# method -> (resource kind, id argument, event of the kind's state table
#            (share/states.py) written on refusal, user message action,
#            user message resource type)
# A ``None`` event means the method has no row whose status fits; only a
# user message is written. Calls (not listed) just raise.
# Empty today: every cast of RPC 1.0-1.30 has its flow.
CASTS = {}


def _resource_id(value):
    if isinstance(value, dict):
        return value.get('id')
    if isinstance(value, list):
        return value
    return value


def _mark(context, kind, rid, event):
    """Move the named row through its refusal event; returns the project id if known."""
    if kind == 'instance':
        inst = rows.instance(context, rid)
        states.advance(context, states.SHARE_INSTANCE, rid, event)
        return inst['project_id']
    if kind == 'snapshot':
        snapshot = db_api.share_snapshot_get(context, rid)
        if snapshot.instance is not None:
            states.advance(context, states.SNAPSHOT_INSTANCE,
                           snapshot.instance['id'], event)
        return snapshot['project_id']
    raise ValueError('no refusal state table for %r' % kind)


def refuse(context, method, kwargs, host):
    """Record that ``method`` cannot run here and raise NotSupportedYet.

    For casts listed in CASTS the named row gets its error status and the
    project gets a user message, so nothing is left waiting in a
    transitional state; for calls the exception alone reaches the caller.
    """
    error = exception.NotSupportedYet(method=method)
    spec = CASTS.get(method)
    if spec is not None:
        kind, arg, event, action, resource_type = spec
        rid = _resource_id(kwargs.get(arg))
        project_id = getattr(context, 'project_id', None)
        try:
            if event is not None and rid:
                project_id = _mark(context, kind, rid, event) or project_id
        except exception.NotFound:
            LOG.debug('%(method)s: %(arg)s %(rid)s does not exist.',
                      {'method': method, 'arg': arg, 'rid': rid})
            raise error
        if resource_type is not None and rid and not isinstance(rid, list):
            message_api.API().create(
                context, action, project_id, resource_type=resource_type,
                resource_id=rid, exception=error)
    raise error
