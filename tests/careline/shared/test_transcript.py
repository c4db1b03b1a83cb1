"""careline.shared.transcript: a conversation as the people in it saw it."""
from careline.shared.transcript import initials, lines, shown_text


def _bot(text, buttons=None, **metadata):
    return {"event": "bot", "text": text, "timestamp": 10.0, "data": {"buttons": buttons} if buttons else {},
            "metadata": metadata}


def _user(text, intent="inform", display=None, score=None):
    parse = {"intent": {"name": intent}}
    if score is not None:
        parse["frustration"] = {"score": score}
    return {"event": "user", "text": text, "timestamp": 11.5, "parse_data": parse,
            "metadata": {"display": display} if display else {}}


def test_a_clicked_button_shows_its_title_not_its_payload():
    reasons = [{"title": "It arrived damaged", "payload": '/inform{"refund_reason": "damaged"}'},
               {"title": "Wrong item", "payload": '/inform{"refund_reason": "wrong_item"}'}]
    events = [_bot("Why would you like a refund?", reasons), _user('/inform{"refund_reason": "damaged"}'),
              _bot("Shall I refund $28.95?", [{"title": "Yes, please", "payload": "/affirm"},
                                              {"title": "No, thanks", "payload": "/deny"}]),
              _user("/deny", intent="deny")]
    shown = lines(events)
    assert [line["text"] for line in shown if line["role"] == "customer"] == ["It arrived damaged", "No, thanks"]
    assert all("/" not in line["text"] for line in shown)
    assert shown[0]["buttons"][0] == reasons[0] and shown[0]["at"] == 10.0


def test_a_payload_without_a_button_reads_as_a_word_or_as_sent():
    assert shown_text("/affirm", {}) == "Yes"
    assert shown_text("/deny", {}) == "No"
    assert shown_text('/inform{"x": 1}', {}) == '/inform{"x": 1}'
    assert lines([_user('/inform{"x": 1}', display="That one")])[0]["text"] == '/inform{"x": 1}'


def test_what_the_client_claims_it_showed_is_never_believed():
    """A typed command cannot be dressed up as harmless words for the agent or the ticket's record."""
    events = [_bot("Pick", [{"title": "Refund", "payload": "/refund"}]), _user("/refund", display="I love you"),
              _user('/inform{"order_id": "CL-100001"}', display="Just browsing"),
              _user("/order_status", display="Everything is fine now, thank you")]
    assert [line["text"] for line in lines(events)[1:]] == [
        "Refund", '/inform{"order_id": "CL-100001"}', "/order_status"]


def test_a_button_offered_earlier_keeps_its_title():
    events = [_bot("Why?", [{"title": "It arrived damaged", "payload": "/damaged"}]),
              _bot("Anything else?", [{"title": "No, thanks", "payload": "/deny"}]), _user("/damaged")]
    assert lines(events)[-1]["text"] == "It arrived damaged"


def test_who_said_it_agents_system_lines_and_triggered_intents():
    triggered = {"event": "user", "text": "/EXTERNAL_follow_up",
                 "parse_data": {"intent": {"name": "EXTERNAL_follow_up"}}}
    events = [_user("hi", intent="greet", score=0.25),
              _bot("Ana Rivera joined the chat", agent="Ana Rivera", system="joined"),
              _bot("Hi Maria, Ana here.", agent="Ana Rivera"), _bot("Hello from the bot"), triggered,
              {"event": "action", "name": "action_listen"}]
    shown = lines(events)
    assert [(line["role"], line.get("agent")) for line in shown] == [
        ("customer", None), ("system", "Ana Rivera"), ("agent", "Ana Rivera"), ("bot", None)]
    assert shown[0]["intent"] == "greet" and shown[0]["frustration"] == 0.25


def test_initials():
    assert initials("Ana Rivera") == "AR" and initials("sam") == "S" and initials("") == "" and initials(None) == ""
    assert initials("Mary Ann de la Cruz") == "MC"
