"""The agent desk: people take over handed-off conversations, act on them and see how support goes.

auth.py      passwords, accounts and signed-in sessions (with their CSRF tokens)
service.py   the queue, a ticket's context and every agent action (audited)
rasa_api.py  replies and hand-backs through Rasa's HTTP API
analytics.py support figures from the shop store and the tracker store

app.py       the web app (Sanic) with its templates/ and static/
"""
