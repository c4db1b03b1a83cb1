"""What the bot says and how a conversation goes.

replies.py        sentences about orders, offers and outcomes (their words: domain.yml responses,
                  rendered with careline.shared.render)
conversation.py   conversation state over plain event dictionaries (identity-check request, failed checks)
"""
