"""Share usage notifications (``share.<event>``) and the periodic gathering of used sizes from the driver."""

import datetime
import numbers

from oslo_log import log as logging

from manila_lite.common import constants as c
from manila_lite.db import api as db_api
from manila_lite import rpc
from manila_lite.share import views

LOG = logging.getLogger(__name__)


def usage_info(share, inst, **extra):
    """The payload upstream's notify_about_share_usage sends."""
    share_type = views.field(inst, 'share_type')
    info = {
        'share_id': views.field(share, 'id'),
        'user_id': views.field(share, 'user_id'),
        'project_id': views.field(share, 'project_id'),
        'snapshot_id': views.field(share, 'snapshot_id'),
        'share_group_id': views.field(share, 'share_group_id'),
        'size': views.field(share, 'size'),
        'name': views.field(share, 'display_name'),
        'description': views.field(share, 'display_description'),
        'proto': views.field(share, 'share_proto'),
        'is_public': views.field(share, 'is_public'),
        'availability_zone': views.field(inst, 'availability_zone'),
        'host': views.field(inst, 'host'),
        'status': views.field(inst, 'status'),
        'share_type_id': views.field(inst, 'share_type_id'),
        'share_type': views.field(share_type, 'name') if share_type else None,
    }
    info.update(extra)
    return info


def notify_about_share_usage(mgr, context, share, inst, event_suffix,
                             extra_usage_info=None, host=None):
    """Emit ``share.<event_suffix>`` (publisher ``share.<host>``); never fails the caller.

    ``host`` defaults to the manager's ``host@backend``; ``mgr`` may be
    None when ``host`` is given. Notifications go wherever
    ``[oslo_messaging_notifications] driver`` says (nowhere by default,
    as upstream).
    """
    if not rpc.initialized():
        return
    try:
        payload = usage_info(share, inst, **(extra_usage_info or {}))
        rpc.get_notifier('share', host or mgr.host).info(
            context, 'share.%s' % event_suffix, payload)
    except Exception:
        LOG.exception('Could not send notification share.%s.', event_suffix)


def update_share_usage_size(mgr, context):
    """Periodic: ask the driver for used sizes of this host's available instances; notify each.

    One query loads the instances; bad driver output is logged and
    skipped, never raised.
    """
    instances = db_api.share_instance_get_all_by_host(
        context, mgr.host, with_share_data=True, status=c.STATUS_AVAILABLE)
    if not instances:
        return
    try:
        gathered = mgr.driver.update_share_usage_size(context, instances)
    except Exception:
        LOG.exception('Driver update_share_usage_size failed.')
        return
    if not isinstance(gathered, (list, tuple)):
        LOG.error('Driver update_share_usage_size returned %s, not a list; '
                  'ignored.', type(gathered).__name__)
        return
    by_id = {inst['id']: inst for inst in instances}
    for item in gathered:
        reason = _invalid_usage(item, by_id)
        if reason:
            LOG.error('Driver update_share_usage_size returned %(item)r: '
                      '%(reason)s; ignored.', {'item': item,
                                               'reason': reason})
            continue
        inst = by_id[item['id']]
        notify_about_share_usage(
            mgr, context, inst['share'] or inst, inst, 'consumed.size',
            extra_usage_info={'used_size': item['used_size'],
                              'gathered_at': item.get('gathered_at')})


def _invalid_usage(item, by_id):
    """Why a driver usage entry is unusable, or None."""
    if not isinstance(item, dict):
        return 'not a dict'
    if item.get('id') not in by_id:
        return 'unknown share instance id'
    used = item.get('used_size')
    if isinstance(used, bool) or not isinstance(used, numbers.Real) \
            or used < 0:
        return 'used_size is not a non-negative number'
    gathered_at = item.get('gathered_at')
    if gathered_at is not None and not isinstance(
            gathered_at, (datetime.datetime, str)):
        return 'gathered_at is not a time'
    return None
