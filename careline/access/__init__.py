"""Who may talk to the bot through which channel: web sessions, Messenger signatures, REST credentials, metadata.

webchat.py           the website channel's tokens, senders and history
web_sessions.py      server-issued website sessions (python -m careline.access.web_sessions revoke ...)
seen_marks.py        what a website customer has seen (the widget's `seen`), for the unseen-reply emails
messenger.py         Facebook Messenger: signatures, incoming messages, outgoing message shapes
integration_auth.py  the REST channel's bearer credential
channel_metadata.py  bounded, labelled message metadata
"""
