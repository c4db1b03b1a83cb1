"""The agent desk: people take over handed-off conversations, act on them and see how support goes.

auth.py      passwords, accounts and signed-in sessions (with their CSRF tokens)
service.py   the queue, a ticket's context and every agent action (audited)
rasa_api.py  replies, hand-backs, "Ana joined/left" lines and the widget's pokes through Rasa's HTTP API
conversation.py  a conversation as the desk shows it: lines people saw, the desk's system lines, notes
words.py     plain words for codes: channel names, handoff reasons, waiting times, the queue's filters,
             the desk history's events, the tag that tells conversations apart
macros.py    saved replies (macros.yml at the project root) filled for a ticket
live.py      what tells a ticket's live stream that its conversation changed (the tracker store)
analytics.py support figures from the shop store and the tracker store
charts.py    small SVG charts rendered on the server (analytics page)

app.py       the web app (Sanic): builds it, its collaborators (Desk, on app.ctx) and the blueprints
web.py       what every route shares: session, CSRF and Origin checks, security headers, rendering,
             banners (a signed one-time cookie, never the URL), error answers, the supervisor gate,
             running an agent action
routes/      the routes, a blueprint per area: auth (sign in/out), queue (queue, ticket workspace, take,
             reply, note, resolve, close, typing), money (form keys, refund/goodwill, waiver), analytics
             (page, CSV), api (JSON: health, queue and its stream, ticket and its stream, analytics)
templates/, static/   the pages and their CSS and scripts
demo_accounts.py      the two demo desk accounts that `make db` creates
__main__.py  python -m careline.desk: run it
"""
