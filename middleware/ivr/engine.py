"""The IVR flow engine: a pure state machine over a Flow.

Inputs are events (digits or a timeout, a prompt finished, a lookup result, an acknowledgement) and
the clock (`now`); outputs are the next action for the IVR service to carry out. The engine
never waits, reads a socket or a table: ``begin`` and ``advance`` return (state, action) at once.
A flow that keeps moving without ever asking the caller anything is cut after MAX_TRANSITIONS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from middleware.customers import Customer
from middleware.errors import CallcenterError
from middleware.ivr.flow import (
    CallbackNode,
    CollectNode,
    Flow,
    HangupNode,
    LanguageNode,
    LookupNode,
    MenuNode,
    Node,
    PlayNode,
    QueueNode,
    ScheduleNode,
    SetNode,
    TransferNode,
    VoicemailNode,
)
from middleware.ivr.schedule import is_open

MAX_TRANSITIONS = 200


class FlowLoop(CallcenterError):
    """The flow moved MAX_TRANSITIONS times: treat as broken and fall back."""


class UnexpectedInput(CallcenterError):
    """An event the current node does not wait for (a service bug, not a caller's doing)."""


# -- what the engine knows about the call and the caller --

@dataclass(frozen=True)
class CallContext:
    tenant: str
    did: str
    caller_id: str
    language: str = "en"


# -- events in --

@dataclass(frozen=True)
class PlayDone:
    pass


@dataclass(frozen=True)
class Digits:
    digits: str
    timed_out: bool = False


@dataclass(frozen=True)
class LookupResult:
    customer: Customer | None


@dataclass(frozen=True)
class Done:
    pass


Event = PlayDone | Digits | LookupResult | Done


# -- actions out --

@dataclass(frozen=True)
class Play:
    prompts: tuple[str, ...]


@dataclass(frozen=True)
class Ask:
    prompts: tuple[str, ...]
    timeout_ms: int
    max_digits: int


@dataclass(frozen=True)
class Lookup:
    by: str
    value: str


@dataclass(frozen=True)
class SetLanguage:
    language: str


@dataclass(frozen=True)
class RequestCallback:
    queue: str
    number: str
    prompts: tuple[str, ...]


@dataclass(frozen=True)
class ToQueue:
    queue: str
    skills: tuple[str, ...]
    priority: int | None


@dataclass(frozen=True)
class ToVoicemail:
    mailbox: str


@dataclass(frozen=True)
class ToTransfer:
    extension: str | None
    number: str | None
    trunk: str | None


@dataclass(frozen=True)
class Hangup:
    prompts: tuple[str, ...]


Action = Play | Ask | Lookup | SetLanguage | RequestCallback | ToQueue | ToVoicemail | ToTransfer | Hangup
TERMINAL_ACTIONS = (ToQueue, ToVoicemail, ToTransfer, Hangup)


def is_terminal(action: Action) -> bool:
    return isinstance(action, TERMINAL_ACTIONS)


@dataclass(frozen=True)
class Step:
    node: str
    input: str
    outcome: str


@dataclass(frozen=True)
class FlowState:
    node: str
    language: str
    attempt: int = 0
    variables: Mapping[str, str] = field(default_factory=dict)
    customer: Customer | None = None
    reason: str | None = None
    skills: tuple[str, ...] = ()
    priority: int | None = None
    path: tuple[Step, ...] = ()
    transitions: int = 0

    @property
    def digits(self) -> str:
        return "".join(s.input for s in self.path if s.input not in ("", "timeout"))


def luhn_ok(number: str) -> bool:
    if not number.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _log(state: FlowState, node: str, inp: str, outcome: str) -> FlowState:
    return replace(state, path=(*state.path, Step(node, inp, outcome)))


def _enter(flow: Flow, ctx: CallContext, state: FlowState, node_id: str, now: datetime) -> tuple[FlowState, Action]:
    """Move to node_id and run through nodes that need nobody, up to the next action."""
    while True:
        if state.transitions >= MAX_TRANSITIONS:
            raise FlowLoop(f"flow {flow.name}: {MAX_TRANSITIONS} transitions without an end (at {node_id})")
        node: Node = flow.nodes[node_id]
        state = replace(state, node=node_id, attempt=0, transitions=state.transitions + 1)
        if isinstance(node, PlayNode):
            return state, Play(node.prompts)
        if isinstance(node, MenuNode | LanguageNode):
            return state, Ask(node.prompts, node.timeout_ms, 1)
        if isinstance(node, CollectNode):
            return state, Ask(node.prompts, node.timeout_ms, node.max_digits)
        if isinstance(node, LookupNode):
            value = ctx.caller_id if node.by == "caller_id" else state.variables.get("account", "")
            if value:
                return state, Lookup(node.by, value)
            state = _log(state, node_id, "", f"no {node.by} to look up")
            node_id = node.not_found
            continue
        if isinstance(node, ScheduleNode):
            opened = is_open(node.schedule, now)
            state = _log(state, node_id, "", "open" if opened else "closed")
            node_id = node.open if opened else node.closed
            continue
        if isinstance(node, SetNode):
            state = replace(state, reason=node.reason if node.reason is not None else state.reason,
                            skills=node.skills if node.skills is not None else state.skills,
                            priority=node.priority if node.priority is not None else state.priority)
            state = _log(state, node_id, "", "set")
            if node.language is not None:  # the service switches the channel's language, then on
                return replace(state, language=node.language), SetLanguage(node.language)
            node_id = node.next
            continue
        if isinstance(node, CallbackNode):
            return state, RequestCallback(node.queue, ctx.caller_id, node.prompts)
        if isinstance(node, QueueNode):
            state = _log(state, node_id, "", f"queue {node.queue}")
            return state, ToQueue(node.queue, node.skills or state.skills,
                                  node.priority if node.priority is not None else state.priority)
        if isinstance(node, VoicemailNode):
            return _log(state, node_id, "", f"voicemail {node.mailbox}"), ToVoicemail(node.mailbox)
        if isinstance(node, TransferNode):
            target = node.extension or f"{node.number} via {node.trunk}"
            return _log(state, node_id, "", f"transfer {target}"), ToTransfer(node.extension, node.number, node.trunk)
        if isinstance(node, HangupNode):
            return _log(state, node_id, "", "hangup"), Hangup(node.prompts)
        raise UnexpectedInput(f"node {node_id} of unknown kind {node.kind}")


def begin(flow: Flow, ctx: CallContext, now: datetime) -> tuple[FlowState, Action]:
    language = ctx.language if ctx.language in flow.languages else flow.languages[0]
    return _enter(flow, ctx, FlowState(node=flow.start, language=language), flow.start, now)


def _retry_or(state: FlowState, node: MenuNode | CollectNode, inp: str, outcome: str,
              exhausted_target: str, reprompt: tuple[str, ...], flow: Flow, ctx: CallContext,
              now: datetime) -> tuple[FlowState, Action]:
    attempt = state.attempt + 1
    state = _log(state, node.id, inp, outcome)
    if attempt > node.retries:
        return _enter(flow, ctx, state, exhausted_target, now)
    max_digits = node.max_digits if isinstance(node, CollectNode) else 1
    return replace(state, attempt=attempt), Ask(reprompt, node.timeout_ms, max_digits)


def advance(flow: Flow, ctx: CallContext, state: FlowState, event: Event, now: datetime) -> tuple[FlowState, Action]:
    node = flow.nodes[state.node]
    if isinstance(node, PlayNode) and isinstance(event, PlayDone):
        return _enter(flow, ctx, _log(state, node.id, "", "played"), node.next, now)
    if isinstance(node, MenuNode) and isinstance(event, Digits):
        digit = event.digits[:1]
        if digit and digit in node.options:
            return _enter(flow, ctx, _log(state, node.id, digit, f"chose {digit}"), node.options[digit], now)
        if not digit:
            return _retry_or(state, node, "timeout", "no input", node.on_timeout, node.prompts, flow, ctx, now)
        return _retry_or(state, node, digit, "invalid", node.on_invalid, (node.invalid_prompt, *node.prompts),
                         flow, ctx, now)
    if isinstance(node, CollectNode) and isinstance(event, Digits):
        digits = event.digits
        if not digits:
            return _retry_or(state, node, "timeout", "no input", node.on_fail, node.prompts, flow, ctx, now)
        valid_length = node.min_digits <= len(digits) <= node.max_digits and digits.isdigit()
        if valid_length and (node.checksum == "none" or luhn_ok(digits)):
            variables = {**state.variables, node.store: digits}
            masked = digits if node.store != "pin" else "*" * len(digits)
            state = replace(_log(state, node.id, masked, f"{node.store} accepted"), variables=variables)
            return _enter(flow, ctx, state, node.next, now)
        outcome = "wrong length" if not valid_length else "checksum failed"
        masked = digits if node.store != "pin" else "*" * len(digits)
        return _retry_or(state, node, masked, outcome, node.on_fail, (node.invalid_prompt, *node.prompts),
                         flow, ctx, now)
    if isinstance(node, LanguageNode) and isinstance(event, Digits):
        digit = event.digits[:1]
        chosen = node.options.get(digit, node.default) if digit else node.default
        outcome = f"language {chosen}" + ("" if digit in node.options else " (default)")
        state = replace(_log(state, node.id, digit or "timeout", outcome), language=chosen)
        return state, SetLanguage(chosen)
    if isinstance(node, LanguageNode | SetNode) and isinstance(event, Done):
        return _enter(flow, ctx, state, node.next, now)
    if isinstance(node, LookupNode) and isinstance(event, LookupResult):
        customer = event.customer
        if customer is None:
            return _enter(flow, ctx, _log(state, node.id, "", "not found"), node.not_found, now)
        variables = {**state.variables, "account": customer.account} if customer.account else dict(state.variables)
        state = replace(_log(state, node.id, "", f"found customer {customer.id}"), customer=customer,
                        variables=variables)
        return _enter(flow, ctx, state, node.found, now)
    if isinstance(node, CallbackNode) and isinstance(event, Done):
        return _enter(flow, ctx, _log(state, node.id, "", f"callback requested on {node.queue}"), node.next, now)
    raise UnexpectedInput(f"node {node.id} ({node.kind}) does not take {type(event).__name__}")
