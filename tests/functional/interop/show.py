"""Print what upstream manila's own DB API sees of a share and of the share services, as JSON (runs inside the upstream venv)."""

import _upstream


def main():
    p = _upstream.parser(__doc__)
    p.add_argument('--share-id')
    args = p.parse_args()
    ctx = _upstream.setup(args)

    from manila import db

    result = {'services': [
        {'host': s['host'], 'topic': s['topic'], 'state': s['state'],
         'disabled': s['disabled'], 'updated_at': s['updated_at']}
        for s in db.service_get_all_by_topic(ctx, 'manila-share')]}
    if args.share_id:
        share = db.share_get(ctx, args.share_id)
        instance = db.share_instance_get(ctx, share.instance['id'],
                                         with_share_data=True)
        result['share'] = {
            'id': share['id'], 'status': share['status'],
            'host': share['host'], 'size': share['size'],
            'export_locations': [
                el['path'] for el in db.export_location_get_all_by_share_id(
                    ctx, share['id'])],
        }
        result['instance'] = {
            'id': instance['id'], 'status': instance['status'],
            'progress': instance['progress'],
            'access_rules_status': instance['access_rules_status'],
            'export_locations': [el['path'] for el in
                                 instance['export_locations']],
        }
    _upstream.finish(result)


if __name__ == '__main__':
    main()
