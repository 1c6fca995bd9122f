"""Request contexts keep the resource tag their log lines print."""

from oslo_config import cfg
from oslo_context import context as oslo_context
import oslo_messaging as messaging

from manila_lite import context as ml_context


def _tagged_request():
    ctx = ml_context.RequestContext.from_dict(
        {'user_id': 'u1', 'project_id': 'p1', 'request_id': 'req-1',
         'auth_token': 'secret'})
    ml_context.tag_resource(ctx, 'share instance', 'i-1')
    ml_context.tag_share_of(ctx, {'id': 'i-1', 'share_id': 's-1'})
    return ctx


def test_redacted_copy_leaves_the_current_context_alone():
    ctx = _tagged_request()
    copy = ctx.redacted_copy()
    assert copy.auth_token is None
    assert oslo_context.get_current() is ctx
    assert ctx.resource_uuid == 'share instance i-1 of share s-1'


def test_a_notification_keeps_the_requests_log_tag():
    # oslo.messaging's notifier sends a redacted copy of the context; the
    # request's later log lines must still name its share.
    ctx = _tagged_request()
    conf = cfg.ConfigOpts()
    transport = messaging.get_notification_transport(conf, url='fake://')
    notifier = messaging.Notifier(transport, publisher_id='share.h',
                                  driver='test')
    notifier.info(ctx, 'share.create.end', {'share_id': 's-1'})
    current = oslo_context.get_current()
    assert current is ctx
    assert current.resource_uuid == 'share instance i-1 of share s-1'
