"""User messages: the rows in `messages` that tell a project why an operation failed."""

import datetime

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils

from manila_lite.common import message_field
from manila_lite.db import api as db_api
from manila_lite import exception

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

LEVEL_ERROR = 'ERROR'

# Exceptions that map to a specific detail instead of UNKNOWN_ERROR.
_EXCEPTION_DETAILS = {
    exception.NoValidHost: message_field.Detail.NO_VALID_HOST,
}


def detail_for(exc=None, detail=None):
    """Pick the detail id upstream would record for this exception or explicit detail."""
    if detail is not None:
        return detail[0]
    if exc is not None:
        for exc_type, mapped in _EXCEPTION_DETAILS.items():
            if isinstance(exc, exc_type):
                return mapped[0]
    return message_field.Detail.UNKNOWN_ERROR[0]


class API:
    """Records user messages; a failure to record one never fails the caller."""

    def create(self, context, action, project_id, resource_type=None,
               resource_id=None, exception=None, detail=None,
               level=LEVEL_ERROR):
        expires_at = (timeutils.utcnow() +
                      datetime.timedelta(seconds=CONF.message_ttl))
        values = {
            'project_id': project_id,
            'request_id': getattr(context, 'request_id', None),
            'resource_type': resource_type,
            'resource_id': resource_id,
            'action_id': action[0],
            'detail_id': detail_for(exception, detail),
            'message_level': level,
            'expires_at': expires_at.replace(microsecond=0),
        }
        try:
            return db_api.message_create(context, values)
        except Exception:
            LOG.exception('Could not record user message %s', values)
            return None
