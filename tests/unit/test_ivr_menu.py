import pytest

from middleware.ivr.menu import InvalidMenu, decide, parse_menu

MENU = parse_menu({"prompt": "dir-pls-enter", "retries": 2, "timeout_ms": 3000,
                   "options": {"1": {"queue": "sales"}, "2": {"queue": "support"}},
                   "default": {"queue": "support"}}, fallback_queue="fallback")


def test_valid_digit_routes() -> None:
    assert decide(MENU, "1", False, 0).queue == "sales"


def test_invalid_digit_asks_again_with_invalid_prompt() -> None:
    d = decide(MENU, "9", False, 0)
    assert d.queue is None and d.replay_prompt == "pm-invalid-option"


def test_timeout_asks_again_then_defaults_on_last_attempt() -> None:
    assert decide(MENU, "", True, 0).queue is None
    assert decide(MENU, "", True, 1).queue is None
    assert decide(MENU, "", True, 2).queue == "support"


def test_default_falls_back_to_did_queue() -> None:
    menu = parse_menu({"options": {"1": {"queue": "sales"}}}, fallback_queue="fallback")
    assert decide(menu, "7", False, 2).queue == "fallback"


def test_no_options_routes_straight_away() -> None:
    assert decide(parse_menu({}, "fallback"), "", True, 0).queue == "fallback"


@pytest.mark.parametrize("bad", [
    {"options": {"12": {"queue": "x"}}},
    {"options": {"1": {}}},
    {"options": ["1"]},
    {"retries": 9},
    {"timeout_ms": 10},
])
def test_invalid_menus(bad: dict) -> None:
    with pytest.raises(InvalidMenu):
        parse_menu(bad, "fallback")
