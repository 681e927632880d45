import pytest

from middleware.agi.protocol import (
    AgiProtocolError,
    build_request,
    format_command,
    parse_env_line,
    parse_reply,
    reply_is_complete,
    split_script,
)

HEADER = [
    "agi_network: yes",
    "agi_network_script: ivr?did=5551000&linkedid=1700000000.12",
    "agi_request: agi://127.0.0.1:4573/ivr?did=5551000&linkedid=1700000000.12",
    "agi_channel: PJSIP/carrier-sim-00000001",
    "agi_uniqueid: 1700000000.12",
    "agi_callerid: 12125550101",
    "agi_arg_1: first",
    "agi_arg_2: second, with comma",
]


def test_request_names_script_query_and_args() -> None:
    req = build_request(HEADER)
    assert req.script == "ivr"
    assert req.query == {"did": "5551000", "linkedid": "1700000000.12"}
    assert req.args == ("first", "second, with comma")
    assert req.channel == "PJSIP/carrier-sim-00000001"
    assert req.caller_id == "12125550101"


def test_script_falls_back_to_agi_request_when_network_script_missing() -> None:
    req = build_request(["agi_request: agi://10.0.0.1:4573/agent?action=login", "agi_channel: x"])
    assert req.script == "agent"
    assert req.query == {"action": "login"}


def test_split_script_nested_path_and_repeated_key() -> None:
    assert split_script("/tenant/ivr/?a=1&a=2&b=") == ("tenant/ivr", {"a": "2", "b": ""})


@pytest.mark.parametrize("line", ["no colon here", "AGI_UPPER: x", "agi name: x", "\x00\x01: x"])
def test_env_line_rejects_non_agi(line: str) -> None:
    with pytest.raises(AgiProtocolError):
        parse_env_line(line)


def test_request_without_script_is_rejected() -> None:
    with pytest.raises(AgiProtocolError):
        build_request(["agi_channel: PJSIP/x"])


def test_reply_with_result_data_and_extras() -> None:
    r = parse_reply(["200 result=1 (timeout) endpos=12345"])
    assert (r.code, r.result, r.data, r.extra) == (200, "1", "timeout", {"endpos": "12345"})


def test_get_data_digits_reply() -> None:
    r = parse_reply(["200 result=42"])
    assert r.ok and r.result == "42" and r.data == ""


def test_get_variable_value_with_spaces() -> None:
    r = parse_reply(["200 result=1 (Alice Archer)"])
    assert r.data == "Alice Archer"


def test_dead_channel_and_unknown_command() -> None:
    assert parse_reply(["511 Command Not Permitted on a dead channel or intercept routine"]).code == 511
    assert parse_reply(["510 Invalid or unknown command"]).code == 510


def test_usage_reply_spans_lines_until_final_520() -> None:
    lines = ["520-Invalid command syntax.  Proper usage follows:", "Usage: GET DATA <file>"]
    assert not reply_is_complete(lines)
    lines.append("520 End of proper usage.")
    assert reply_is_complete(lines)
    r = parse_reply(lines)
    assert r.code == 520 and "Usage: GET DATA" in r.text


def test_garbage_reply_is_an_error() -> None:
    with pytest.raises(AgiProtocolError):
        parse_reply(["HTTP/1.1 200 OK"])


def test_command_quoting() -> None:
    assert format_command("GET DATA", "beep", 5000, 1) == b"GET DATA beep 5000 1\n"
    assert format_command("SET VARIABLE", "X", 'say "hi" \\ there') == b'SET VARIABLE X "say \\"hi\\" \\\\ there"\n'
    assert format_command("SET VARIABLE", "X", "") == b'SET VARIABLE X ""\n'


def test_command_cannot_smuggle_a_second_command() -> None:
    with pytest.raises(AgiProtocolError):
        format_command("SET VARIABLE", "X", "1\nHANGUP")
