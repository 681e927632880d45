"""The FastAGI wire protocol, pure: request headers in, commands out, replies parsed.

What Asterisk sends (res_agi.c): ``agi_name: value`` lines ended by a blank line; then one reply per
command, ``200 result=N [(data)] [key=value]``, ``510`` unknown command, ``511`` dead channel,
``520-`` usage text over several lines closed by ``520 ``; and, unless AGISIGHUP=no, a lone
``HANGUP`` line, unsolicited, whenever the caller hangs up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs


class AgiProtocolError(ValueError):
    """Bytes that are not FastAGI."""


class AgiHeaderTooLarge(AgiProtocolError):
    """The request header exceeded the configured bound."""


class AgiTruncated(AgiProtocolError):
    """The peer closed the connection before finishing the header or a reply."""


HANGUP_LINE = "HANGUP"
_ENV_NAME = re.compile(r"^agi_[a-z0-9_]+$")


@dataclass(frozen=True)
class AgiRequest:
    """One FastAGI request: its environment, the script it asks for and the arguments it passes."""

    env: dict[str, str]
    script: str
    query: dict[str, str]
    args: tuple[str, ...]

    @property
    def channel(self) -> str:
        return self.env.get("agi_channel", "")

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")

    @property
    def caller_id(self) -> str:
        return self.env.get("agi_callerid", "")

    @property
    def extension(self) -> str:
        return self.env.get("agi_extension", "")


def parse_env_line(line: str) -> tuple[str, str]:
    """``agi_name: value`` -> (name, value); anything else is a protocol error."""
    name, sep, value = line.partition(":")
    name = name.strip()
    if not sep or not _ENV_NAME.match(name):
        raise AgiProtocolError(f"not an AGI environment line: {line[:80]!r}")
    return name, value.strip()


def parse_header_block(block: bytes) -> AgiRequest:
    """The bytes up to and including the blank line that ends a request header -> the request."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AgiProtocolError("request header is not UTF-8 text") from exc
    lines = [line.rstrip("\r") for line in text.split("\n") if line.strip("\r")]
    if not lines:
        raise AgiProtocolError("empty request header")
    return build_request(lines)


def split_script(network_script: str) -> tuple[str, dict[str, str]]:
    """``ivr/main?did=100&x=1`` -> (``ivr/main``, {did: 100, x: 1}); the last value of a repeated key wins."""
    path, _, qs = network_script.partition("?")
    query = {k: v[-1] for k, v in parse_qs(qs, keep_blank_values=True).items()} if qs else {}
    return path.strip("/"), query


def build_request(lines: list[str]) -> AgiRequest:
    """Assemble a request from its decoded header lines (the blank terminator excluded)."""
    env: dict[str, str] = {}
    for line in lines:
        name, value = parse_env_line(line)
        env[name] = value
    if "agi_network_script" not in env:
        if "agi_request" not in env:
            raise AgiProtocolError("request names no script (no agi_network_script nor agi_request)")
        # agi_request is agi://host[:port]/script?query
        tail = env["agi_request"].split("://", 1)[-1]
        env["agi_network_script"] = tail.partition("/")[2]
    script, query = split_script(env["agi_network_script"])
    args = []
    n = 1
    while f"agi_arg_{n}" in env:
        args.append(env[f"agi_arg_{n}"])
        n += 1
    return AgiRequest(env=env, script=script, query=query, args=tuple(args))


@dataclass(slots=True)  # one per command: a frozen dataclass costs several times as much to build
class AgiReply:
    code: int
    result: str = ""
    data: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def result_int(self) -> int:
        try:
            return int(self.result)
        except ValueError:
            return -1


_REPLY = re.compile(r"^([0-9]{3})([ -])(.*)$")  # ASCII digits only: int() refuses "²"


def reply_is_complete(lines: list[str]) -> bool:
    """Whether these lines (without HANGUP lines) hold one whole reply (520- spans several)."""
    if not lines:
        return False
    head = lines[0]
    if head[3:4] == " " and head[:3].isascii() and head[:3].isdigit():  # the usual one-line reply, without the regex
        return True
    first = _REPLY.match(head)
    if first is None:
        return True  # garbage: let parse_reply raise
    if first.group(2) == " ":
        return True
    code = first.group(1)
    return any(line.startswith(code + " ") for line in lines[1:])


def parse_reply(lines: list[str]) -> AgiReply:
    """Parse one reply (one line, or a 520- block) into code, result, (data) and key=value extras."""
    if not lines:
        raise AgiProtocolError("empty reply")
    head = lines[0]
    if head.startswith("200 result=") and len(lines) == 1:  # the usual reply: no regex, no tokens
        result, _, rest = head[11:].partition(" ")
        if not rest:
            return AgiReply(code=200, result=result, data="", extra={}, text="")
    m = _REPLY.match(head)
    if m is None:
        raise AgiProtocolError(f"not an AGI reply: {lines[0][:80]!r}")
    code = int(m.group(1))
    rest = m.group(3)
    if m.group(2) == "-":
        return AgiReply(code=code, text="\n".join([rest, *lines[1:]]))
    if not rest.startswith("result="):
        return AgiReply(code=code, text=rest)
    rest = rest[len("result="):]
    result, _, rest = rest.partition(" ")
    data = ""
    rest = rest.strip()
    if rest.startswith("("):
        close = rest.find(")")
        if close == -1:
            raise AgiProtocolError(f"unbalanced data in reply: {lines[0][:80]!r}")
        data = rest[1:close]
        rest = rest[close + 1:].strip()
    extra = {}
    for token in rest.split():
        k, sep, v = token.partition("=")
        if sep:
            extra[k] = v
    return AgiReply(code=code, result=result, data=data, extra=extra, text=rest)


def quote_arg(arg: str | int) -> str:
    """Quote one command argument the way res_agi's parser splits them."""
    text = str(arg)
    if "\n" in text or "\r" in text or "\0" in text:
        raise AgiProtocolError("an AGI argument cannot contain a line break or NUL")
    if text == "" or any(c in text for c in ' \t"\\'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def format_command(verb: str, *args: str | int) -> bytes:
    """``format_command("GET DATA", "beep", 5000, 1)`` -> b'GET DATA beep 5000 1\\n'."""
    if "\n" in verb or "\r" in verb:
        raise AgiProtocolError("an AGI command cannot contain a line break")
    return (" ".join([verb, *(quote_arg(a) for a in args)]) + "\n").encode()
