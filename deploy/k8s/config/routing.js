// The REST webhook's routing by conversation for deploy/ (nginx.conf.template): a copy of ROUTING_JS in
// ops/infra/nginx.py, which tests/ops/test_deploy_sync.py keeps it equal to.
function bySender(r) {
    var sender = '';
    try {
        var body = JSON.parse(r.requestText || '');
        if (body && typeof body.sender === 'string') {
            sender = body.sender;
        }
    } catch (e) {
        sender = '';
    }
    r.variables.careline_sender = sender || r.variables.request_id;
    r.internalRedirect('@rest_by_sender');
}

export default {bySender};
