"""The agent desk: people take over handed-off conversations, act on them and see how support goes.

auth.py      passwords, accounts and signed-in sessions (with their CSRF tokens)
service.py   the queue, a ticket's context and every agent action (audited)
rasa_api.py  replies and hand-backs through Rasa's HTTP API
analytics.py support figures from the shop store and the tracker store
charts.py    small SVG charts rendered on the server (analytics page)

app.py       the web app (Sanic): builds it, its collaborators (Desk, on app.ctx) and the blueprints
web.py       what every route shares: session, CSRF and Origin checks, security headers, rendering,
             error answers, the supervisor gate, running an agent action
routes/      the routes, a blueprint per area: auth (sign in/out), queue (queue, ticket page, take,
             reply, note, resolve, close), money (form keys, refund/goodwill, waiver), analytics
             (page, CSV), api (JSON: health, queue and its stream, ticket, analytics)
templates/, static/   the pages and their CSS and scripts
demo_accounts.py      the two demo desk accounts that `make db` creates
__main__.py  python -m careline.desk: run it
"""
