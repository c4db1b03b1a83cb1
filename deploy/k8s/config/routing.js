// The REST webhook's routing by conversation (njs): one customer's messages go to one Rasa server, where
// they keep their order. The one copy: ops/infra/nginx.py renders it for `make up PROFILE=prod`, and
// deploy/ (nginx.conf.template, compose and Kubernetes) mounts it.
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
