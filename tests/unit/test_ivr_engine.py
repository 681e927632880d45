"""The flow engine node by node: what it asks Asterisk to do, given what the caller did."""

from datetime import UTC, datetime

import pytest

from middleware.ivr import engine as e
from middleware.ivr.validation import parse_flow, validate

NOON = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # Monday 12:00 in New York
NIGHT = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # Monday 23:00 in New York
CTX = e.CallContext(tenant="acme", did="5551000", caller_id="12125550101")

FLOW = parse_flow({
    "flow": "unit", "languages": ["en", "es"], "timezone": "America/New_York", "start": "hello",
    "nodes": {
        "hello": {"type": "play", "prompts": ["hello", "beep"], "next": "hours"},
        "hours": {"type": "schedule", "hours": {"mon-fri": "08:00-18:00"}, "open": "lang", "closed": "closed"},
        "lang": {"type": "language", "prompt": "dir-pls-enter", "options": {"1": "en", "2": "es"},
                 "default": "en", "next": "who"},
        "who": {"type": "lookup", "by": "caller_id", "found": "menu", "not_found": "menu"},
        "menu": {"type": "menu", "prompt": "dir-pls-enter", "timeout": 3, "retries": 1,
                 "options": {"1": "acct", "2": "vip", "3": "cb", "4": "vm", "5": "xfer", "6": "ext"},
                 "on_timeout": "fallback", "on_invalid": "bye"},
        "acct": {"type": "collect", "prompt": "vm-enter-num-to-call", "min_digits": 6, "max_digits": 12,
                 "checksum": "luhn", "store": "account", "retries": 1, "next": "find", "on_fail": "fallback"},
        "find": {"type": "lookup", "by": "account", "found": "vip", "not_found": "fallback"},
        "vip": {"type": "set", "reason": "billing", "skills": ["billing", "spanish"], "priority": 9, "next": "q"},
        "q": {"type": "queue", "queue": "acme-billing"},
        "fallback": {"type": "queue", "queue": "acme-support", "skills": ["general"]},
        "cb": {"type": "callback", "queue": "acme-support", "prompt": "queue-thankyou", "next": "bye"},
        "vm": {"type": "voicemail", "mailbox": "1000"},
        "xfer": {"type": "transfer", "number": "+15551230000", "trunk": "carrier-sim"},
        "ext": {"type": "transfer", "extension": "acme-1001"},
        "closed": {"type": "hangup", "prompts": ["vm-goodbye"]},
        "bye": {"type": "hangup"},
    },
})
DANA = e.Customer(id=7, name="Dana Dawson", account="4242424242424242", tier="gold")


def run(events: list, now: datetime = NOON) -> tuple[e.FlowState, list]:
    """Feed events in order; return the final state and every action the engine asked for."""
    state, action = e.begin(FLOW, CTX, now)
    actions = [action]
    for event in events:
        state, action = e.advance(FLOW, CTX, state, event, now)
        actions.append(action)
    return state, actions


def to_menu(customer: e.Customer | None = None, language_digit: str = "1") -> list:
    return [e.PlayDone(), e.Digits(language_digit), e.Done(), e.LookupResult(customer)]


def test_play_schedule_language_lookup_then_menu() -> None:
    state, actions = run(to_menu(DANA, "2"))
    assert actions[0] == e.Play(("hello", "beep"))
    assert actions[1] == e.Ask(("dir-pls-enter",), 5000, 1)  # the language menu
    assert actions[2] == e.SetLanguage("es")
    assert actions[3] == e.Lookup("caller_id", "12125550101")
    assert actions[4] == e.Ask(("dir-pls-enter",), 3000, 1)
    assert state.node == "menu" and state.language == "es" and state.customer == DANA
    assert state.variables["account"] == DANA.account  # a found customer brings the account along


def test_after_hours_goes_straight_to_the_closed_branch() -> None:
    state, actions = run([e.PlayDone()], now=NIGHT)
    assert actions[-1] == e.Hangup(("vm-goodbye",))
    assert [(s.node, s.outcome) for s in state.path] == [("hello", "played"), ("hours", "closed"),
                                                        ("closed", "hangup")]


def test_menu_choice_sets_attributes_and_queues() -> None:
    state, actions = run([*to_menu(), e.Digits("2")])
    assert actions[-1] == e.ToQueue("acme-billing", ("billing", "spanish"), 9)
    assert (state.reason, state.digits) == ("billing", "12")


def test_menu_timeout_retries_then_takes_the_timeout_branch() -> None:
    state, actions = run([*to_menu(), e.Digits("", timed_out=True), e.Digits("", timed_out=True)])
    assert actions[-2] == e.Ask(("dir-pls-enter",), 3000, 1)  # asked again, same prompt
    assert actions[-1] == e.ToQueue("acme-support", ("general",), None)
    assert [s.outcome for s in state.path if s.node == "menu"] == ["no input", "no input"]


def test_invalid_digit_says_so_then_accepts_a_valid_one() -> None:
    _, actions = run([*to_menu(), e.Digits("9"), e.Digits("4")])
    assert actions[-2] == e.Ask(("pm-invalid-option", "dir-pls-enter"), 3000, 1)
    assert actions[-1] == e.ToVoicemail("1000")


def test_invalid_digits_past_the_retries_take_the_invalid_branch() -> None:
    _, actions = run([*to_menu(), e.Digits("9"), e.Digits("8")])
    assert actions[-1] == e.Hangup(())


def test_collect_account_checks_luhn_then_looks_it_up() -> None:
    state, actions = run([*to_menu(), e.Digits("1"), e.Digits("79927398710"), e.Digits("79927398713"),
                          e.LookupResult(e.Customer(9, "Evan Ellis", "79927398713"))])
    assert actions[-4] == e.Ask(("vm-enter-num-to-call",), 5000, 12)
    assert actions[-3] == e.Ask(("pm-invalid-option", "vm-enter-num-to-call"), 5000, 12)  # bad checksum
    assert actions[-2] == e.Lookup("account", "79927398713")
    assert actions[-1] == e.ToQueue("acme-billing", ("billing", "spanish"), 9)
    assert [s.outcome for s in state.path if s.node == "acct"] == ["checksum failed", "account accepted"]
    assert state.customer is not None and state.customer.name == "Evan Ellis"


def test_collect_wrong_length_twice_fails_over() -> None:
    _, actions = run([*to_menu(), e.Digits("1"), e.Digits("12345"), e.Digits("12")])
    assert actions[-1] == e.ToQueue("acme-support", ("general",), None)


def test_unknown_account_takes_not_found() -> None:
    _, actions = run([*to_menu(), e.Digits("1"), e.Digits("79927398713"), e.LookupResult(None)])
    assert actions[-1] == e.ToQueue("acme-support", ("general",), None)


def test_callback_request_then_goodbye() -> None:
    state, actions = run([*to_menu(), e.Digits("3"), e.Done()])
    assert actions[-2] == e.RequestCallback("acme-support", "12125550101", ("queue-thankyou",))
    assert actions[-1] == e.Hangup(())
    assert state.path[-2].outcome == "callback requested on acme-support"


def test_transfers_to_number_through_trunk_and_to_extension() -> None:
    assert run([*to_menu(), e.Digits("5")])[1][-1] == e.ToTransfer(None, "+15551230000", "carrier-sim")
    assert run([*to_menu(), e.Digits("6")])[1][-1] == e.ToTransfer("acme-1001", None, None)


def test_language_timeout_uses_the_default() -> None:
    state, actions = run([e.PlayDone(), e.Digits("", timed_out=True)])
    assert actions[-1] == e.SetLanguage("en") and state.path[-1].outcome == "language en (default)"


def test_an_event_the_node_does_not_wait_for_is_an_error() -> None:
    state, _ = e.begin(FLOW, CTX, NOON)
    with pytest.raises(e.UnexpectedInput):
        e.advance(FLOW, CTX, state, e.Digits("1"), NOON)


def test_a_flow_that_never_waits_is_cut() -> None:
    # Validation rejects this shape; the engine still refuses to spin on it.
    from middleware.ivr.flow import Flow, SetNode

    spin = Flow("spin", "", "a", ("en",), "UTC", {"a": SetNode("a", "set", None, None, None, "b"),
                                                   "b": SetNode("b", "set", None, None, None, "a")})
    with pytest.raises(e.FlowLoop):
        e.begin(spin, CTX, NOON)


def test_pin_is_masked_in_the_path() -> None:
    flow = parse_flow({"flow": "pin", "start": "pin", "nodes": {
        "pin": {"type": "collect", "prompt": "beep", "min_digits": 4, "max_digits": 4, "store": "pin",
                "next": "q", "on_fail": "q"},
        "q": {"type": "queue", "queue": "x"}}})
    state, _ = e.begin(flow, CTX, NOON)
    state, action = e.advance(flow, CTX, state, e.Digits("1234"), NOON)
    assert state.path[0].input == "****" and state.variables["pin"] == "1234"
    assert isinstance(action, e.ToQueue)


def test_luhn() -> None:
    assert e.luhn_ok("79927398713") and e.luhn_ok("4242424242424242")
    assert not e.luhn_ok("79927398710") and not e.luhn_ok("12a4")


def test_a_set_node_can_switch_the_language_and_the_menu_comes_again_in_it() -> None:
    doc = {"flow": "bi", "start": "menu", "languages": ["en", "es"], "nodes": {
        "menu": {"type": "menu", "prompt": "dir-pls-enter", "options": {"2": "q", "9": "es"}, "on_timeout": "q"},
        "es": {"type": "set", "language": "es", "next": "menu"},
        "q": {"type": "queue", "queue": "acme-support"}}}
    flow = parse_flow(doc)
    state, action = e.begin(flow, CTX, NOON)
    state, action = e.advance(flow, CTX, state, e.Digits("9", False), NOON)
    assert action == e.SetLanguage("es") and state.language == "es"
    state, action = e.advance(flow, CTX, state, e.Done(), NOON)
    assert isinstance(action, e.Ask) and action.prompts == ("dir-pls-enter",) and state.node == "menu"
    state, action = e.advance(flow, CTX, state, e.Digits("2", False), NOON)
    assert isinstance(action, e.ToQueue) and state.language == "es"
    bad = {**doc, "languages": ["en"]}
    assert any("languages" in p.message for p in validate(bad))
