"""SIPp, run from the rootfs, as the phones and carriers of the demo and the integration tests.

An agent phone is two SIPp processes: a short REGISTER (digest auth) whose Contact points at a
long-running answering scenario. A caller is one SIPp process placing calls to a DID and pressing
digits as RFC 2833 DTMF (RTP events generated per call, see rtp_dtmf.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from middleware.runtime import rtp_dtmf

SCENARIOS = Path(__file__).resolve().parent / "sipp"
WORK_IN_ROOT = "/var/lib/callcenter-sipp"


class SippError(RuntimeError):
    """SIPp failed: bad scenario, no answer from Asterisk, or a timeout."""


Presses = Sequence[tuple[int, str]]  # (wait before, in ms; the digits then pressed one after another)


def render_caller(*, presses: Presses, caller: str, hold_ms: int, pcap_paths: Sequence[str],
                  voice_path: str | None = None) -> str:
    """The caller scenario: after the answer, each (wait, digits) in turn, then ``hold_ms`` on the line
    (talking, with ``voice_path``: a PCMA capture played from the start of the hold).
    ``pcap_paths[i]`` is the RFC 2833 capture (inside the rootfs) that presses[i] replays."""
    if not re.fullmatch(r"\+?[0-9]{1,20}", caller):
        raise ValueError(f"caller number {caller!r} is not a phone number")
    steps = []
    for (wait_ms, digits), path in zip(presses, pcap_paths, strict=True):
        steps.append(f'  <pause milliseconds="{int(wait_ms)}" />')
        if digits:
            steps.append(f'  <nop><action><exec play_pcap_audio="{path}"/></action></nop>')
            steps.append(f'  <pause milliseconds="{int(rtp_dtmf.seconds(digits) * 1000) + 100}" />')
    if voice_path:
        steps.append(f'  <nop><action><exec play_pcap_audio="{voice_path}"/></action></nop>')
    text = (SCENARIOS / "caller.xml").read_text()
    return (text.replace("{caller}", caller).replace("{hold_ms}", str(hold_ms))
            .replace("{dtmf_actions}", "\n".join(steps)))


_AWAIT_BYE = """  <recv request="BYE">
    <action><log message="ENDED [clock_tick] [call_id]" /></action>
  </recv>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>"""

_SEND_BYE = """  <!-- Consulting: the PBX may re-INVITE the agent (the target's connected line) any number of
       times; the agent hangs up {talk_ms} ms after the last message, completing the transfer. -->
  <label id="consulting" />
  <recv request="INVITE" timeout="{talk_ms}" ontimeout="hangup" />
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[service]@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=agent 53655765 2353687638 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
    ]]>
  </send>
  <recv request="ACK" next="consulting" />
  <label id="hangup" />
  <send retrans="500">
    <![CDATA[
BYE [$peer_uri] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
From: [$my_to];tag=[pid]ag[call_number]
To: [$peer_from]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0

    ]]>
    <action><log message="HUNGUP [clock_tick] [call_id]" /></action>
  </send>
  <recv response="200" crlf="true" />"""


def render_transfer(*, kind: str, target: str, pcap_paths: Sequence[str], after_ms: int = 2000,
                    consult_ms: int = 3000) -> str:
    """An agent who answers, waits ``after_ms``, then transfers: ``kind`` blind (## then the target)
    or attended (*2, the target, ``consult_ms`` talking to them, then hanging up)."""
    if kind not in ("blind", "attended"):
        raise ValueError(f"transfer kind {kind!r}: blind or attended")
    if not re.fullmatch(r"[0-9]{1,20}", target):
        raise ValueError(f"transfer target {target!r} must be digits to key in")
    feature, digits = pcap_paths
    steps = [f'  <pause milliseconds="{int(after_ms)}" />',
             f'  <nop><action><exec play_pcap_audio="{feature}"/></action></nop>',
             # The PBX says "transfer" and listens for the number (transferdigittimeout 3 s).
             '  <pause milliseconds="1500" />',
             f'  <nop><action><exec play_pcap_audio="{digits}"/></action></nop>']
    # Blind: the PBX hangs the agent up as soon as the number is complete, so listen at once.
    keyed_ms = int(rtp_dtmf.seconds(target) * 1000) + 100
    finish = _AWAIT_BYE if kind == "blind" else _SEND_BYE.replace("{talk_ms}", str(keyed_ms + int(consult_ms)))
    text = (SCENARIOS / "agent_transfer.xml").read_text()
    return text.replace("{dtmf_actions}", "\n".join(steps)).replace("{finish}", finish)


@dataclass
class SippRun:
    """One SIPp process and the log its scenario writes (<log message=.../> lines)."""

    name: str
    process: asyncio.subprocess.Process
    log_path: Path
    stderr_path: Path

    async def wait(self, timeout: float) -> int:
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            await self.stop()
            raise SippError(f"sipp {self.name} did not finish within {timeout:.0f}s") from None

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()

    def log_lines(self) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def errors(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-2000:]
        except FileNotFoundError:
            return ""


@dataclass
class AgentPhone:
    endpoint: str
    port: int
    answering: SippRun
    calls: list[dict[str, str]] = field(default_factory=list)

    def invites(self) -> list[dict[str, str]]:
        """The X-CC-* headers of every INVITE this phone received, by call-id."""
        out = []
        for line in self.answering.log_lines():
            if not line.startswith("INVITE "):
                continue
            head, *fields = line.split("|")
            headers = {"call_id": head.split()[1] if len(head.split()) > 1 else ""}
            for f in fields:
                name, sep, value = f.partition(":")
                if sep and name.strip() and value.strip():
                    headers[name.strip()] = value.strip()
            out.append(headers)
        return out

    def connected_calls(self) -> list[dict[str, object]]:
        """Calls this phone answered: call-id, caller, connect/end ticks (ms, SIPp's clock)."""
        connected: dict[str, dict[str, object]] = {}
        for line in self.answering.log_lines():
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[0] == "CONNECTED":
                caller = re.search(r"sip:([^@>;]+)@", parts[3] if len(parts) > 3 else "")
                connected[parts[2]] = {"call_id": parts[2], "connected_ms": int(parts[1]),
                                       "caller": caller.group(1) if caller else ""}
            elif len(parts) >= 3 and parts[0] == "ENDED" and parts[2] in connected:
                connected[parts[2]]["ended_ms"] = int(parts[1])
        return list(connected.values())


@dataclass
class CustomerPopulation:
    run: SippRun

    def numbers(self, what: str) -> list[str]:
        """Numbers (without +) in log lines starting with ``what``: INVITE, ANSWERED or ENDED."""
        out = []
        for line in self.run.log_lines():
            parts = line.split()
            if len(parts) >= 4 and parts[0] == what:
                out.append(parts[3])
        return out


class Sipp:
    """Starts SIPp processes inside the rootfs; files go through <root>/var/lib/callcenter-sipp."""

    def __init__(self, root: Path, *, asterisk: str = "127.0.0.1:5060") -> None:
        self.root = root
        self.asterisk = asterisk
        self.work = root / WORK_IN_ROOT.lstrip("/")
        self._runs: list[SippRun] = []
        self._seq = 0

    def _prepare(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        for scenario in SCENARIOS.glob("*.xml"):
            dest = self.work / scenario.name
            text = scenario.read_bytes()
            if dest.exists() and dest.read_bytes() == text:
                continue
            # Atomically: a SIPp started a moment ago may be reading the previous copy right now.
            tmp = dest.with_suffix(".xml.tmp")
            tmp.write_bytes(text)
            os.replace(tmp, dest)

    async def start(self, name: str, scenario_text_or_file: str, args: list[str], *,
                    local_ip: str = "127.0.0.1") -> SippRun:
        self._prepare()
        self._seq += 1
        tag = f"{name}-{self._seq}"
        if scenario_text_or_file.endswith(".xml"):
            scenario = f"{WORK_IN_ROOT}/{scenario_text_or_file}"
        else:
            (self.work / f"{tag}.xml").write_text(scenario_text_or_file)
            scenario = f"{WORK_IN_ROOT}/{tag}.xml"
        log_in_root = f"{WORK_IN_ROOT}/{tag}.log"
        (self.work / f"{tag}.log").unlink(missing_ok=True)
        stderr_path = self.work / f"{tag}.err"
        cmd = ["chroot", str(self.root), "sipp", self.asterisk, "-sf", scenario, "-i", local_ip,
               "-mi", local_ip, "-trace_logs", "-log_file", log_in_root, "-nostdin",
               "-trace_err", "-error_file", f"{WORK_IN_ROOT}/{tag}.errors", *args]
        with open(stderr_path, "wb") as err:
            process = await asyncio.create_subprocess_exec(
                *cmd, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=err)
        run = SippRun(tag, process, self.work / f"{tag}.log", stderr_path)
        self._runs.append(run)
        return run

    async def agent_phone(self, endpoint: str, secret: str, port: int, *, timeout: float = 15,
                          transfer: tuple[str, str] | None = None, hangup_after_ms: int | None = None) -> AgentPhone:
        """Start the phone's answering half on ``port``, then REGISTER it with digest auth. With
        ``transfer`` = (blind|attended, digits) the phone answers one call and transfers it; with
        ``hangup_after_ms`` it answers one call and the agent hangs up first."""
        if hangup_after_ms is not None:
            text = (SCENARIOS / "agent_transfer.xml").read_text()
            scenario, calls = text.replace("{dtmf_actions}", "").replace(
                "{finish}", _SEND_BYE.replace("{talk_ms}", str(int(hangup_after_ms)))), "1"
        elif transfer is None:
            scenario, calls = "agent_answer.xml", "1000"
        else:
            kind, target = transfer
            self._prepare()
            self._seq += 1
            feature = "##" if kind == "blind" else "*2"
            paths = []
            for i, digits in enumerate((feature, target)):
                name = f"xfer-{self._seq}-{i}.pcap"
                (self.work / name).write_bytes(rtp_dtmf.pcap(digits, seq=2000 + 500 * i, timestamp=80_000 * (i + 1)))
                paths.append(f"{WORK_IN_ROOT}/{name}")
            scenario, calls = render_transfer(kind=kind, target=target, pcap_paths=paths), "1"
        answering = await self.start(f"phone-{endpoint}", scenario,
                                     ["-p", str(port), "-mp", str(port + 2000), "-s", endpoint,
                                      "-m", calls, "-timeout", "3600s"])
        register = await self.start(f"register-{endpoint}", "register.xml",
                                    ["-p", str(port + 1), "-s", endpoint, "-au", endpoint, "-ap", secret,
                                     "-set", "uas_port", str(port), "-set", "expires", "3600", "-m", "1",
                                     "-recv_timeout", "5000"])
        code = await register.wait(timeout)
        if code != 0:
            await answering.stop()
            raise SippError(f"phone {endpoint} could not register (sipp exit {code}): "
                            f"{register.errors()[-500:]}")
        return AgentPhone(endpoint, port, answering)

    async def call(self, did: str, *, caller: str, port: int, digits: str = "", dtmf_after_ms: int = 1500,
                   presses: Presses | None = None, hold_ms: int = 5000, calls: int = 1,
                   rate_per_s: float = 1.0, talk: bool = False, limit: int | None = None,
                   extra_args: Sequence[str] = ()) -> SippRun:
        """Place calls to a DID; press ``digits`` after ``dtmf_after_ms``, or follow ``presses``;
        with ``talk`` the caller sends audio (a tone) all through the hold, as a voice would."""
        if presses is None:
            presses = [(dtmf_after_ms, digits)]
        self._prepare()
        self._seq += 1
        paths = []
        for i, (_, press) in enumerate(presses):
            name = f"dtmf-{self._seq}-{i}.pcap"
            # Each press continues the RTP sequence and clock of the one before.
            (self.work / name).write_bytes(rtp_dtmf.pcap(press, seq=1000 + 500 * i, timestamp=80_000 * (i + 1)))
            paths.append(f"{WORK_IN_ROOT}/{name}")
        voice = None
        if talk:
            name = f"voice-{self._seq}.pcap"
            (self.work / name).write_bytes(rtp_dtmf.voice_pcap(hold_ms / 1000, seq=20000, timestamp=8_000_000))
            voice = f"{WORK_IN_ROOT}/{name}"
        scenario = render_caller(presses=presses, caller=caller, hold_ms=hold_ms, pcap_paths=paths, voice_path=voice)
        return await self.start(f"caller-{did}", scenario,
                                ["-p", str(port), "-mp", str(port + 2000), "-s", did, "-m", str(calls),
                                 "-r", str(rate_per_s), "-l", str(limit or calls), "-recv_timeout", "60000",
                                 *extra_args])

    async def feature_code(self, endpoint: str, secret: str, code: str, port: int, *,
                           stay_ms: int = 6000) -> SippRun:
        """The phone dials a feature code (*45 login ...) with digest auth and hangs up when the PBX
        does, or after ``stay_ms`` without a message (a *49 persistent session stays that long)."""
        scenario = (SCENARIOS / "agent_dial.xml").read_text().replace("STAY_MS", str(int(stay_ms)))
        return await self.start(f"dial-{endpoint}", scenario,
                                ["-p", str(port), "-mp", str(port + 2000), "-s", code, "-au", endpoint,
                                 "-ap", secret, "-set", "phone", endpoint, "-m", "1",
                                 "-recv_timeout", str(max(15000, int(stay_ms) + 5000))])

    async def unauthenticated_call(self, number: str, port: int, *, local_ip: str,
                                   from_user: str = "anonymous") -> SippRun:
        """An INVITE to ``number`` without credentials from ``local_ip`` (any 127.x works on loopback);
        its log holds ``FINAL <code> <call-id>``: how the PBX answered."""
        scenario = (SCENARIOS / "anonymous_call.xml").read_text().replace("{from_user}", from_user)
        return await self.start("unauthenticated", scenario,
                                ["-p", str(port), "-mp", str(port + 2000), "-s", number, "-m", "1",
                                 "-recv_timeout", "20000"], local_ip=local_ip)

    async def register_once(self, endpoint: str, secret: str, port: int, *, local_ip: str) -> SippRun:
        """One REGISTER with digest auth from ``local_ip``: exit 0 when the PBX accepted it."""
        return await self.start(f"register-{endpoint}", "register.xml",
                                ["-p", str(port), "-s", endpoint, "-au", endpoint, "-ap", secret,
                                 "-set", "uas_port", str(port), "-set", "expires", "60", "-m", "1",
                                 "-recv_timeout", "4000"], local_ip=local_ip)

    async def customer(self, port: int, *, talk_ms: int = 3000, calls: int = 10) -> SippRun:
        """A customer's phone behind the carrier (the carrier-sim trunk sends calls to 127.0.0.1:5080)."""
        scenario = (SCENARIOS / "customer_answer.xml").read_text().replace("{talk_ms}", str(int(talk_ms)))
        return await self.start("customer", scenario,
                                ["-p", str(port), "-mp", str(port + 2000), "-s", "customer",
                                 "-m", str(calls), "-timeout", "600s"])

    async def customers(self, port: int, *, ring_ms: int = 1500, talk_ms: int = 5000,
                        calls: int = 100_000) -> CustomerPopulation:
        """Customers behind the carrier who act by the last digit of their number (0-4 a person, 5 a
        machine, 6-7 no answer, 8 busy; customer_population.xml)."""
        self._prepare()
        human = self.work / "greeting-human.pcap"
        machine = self.work / "greeting-machine.pcap"
        # "Hello?" then silence: AMD's HUMAN. A four-second greeting: AMD's MACHINE (LONGGREETING).
        human.write_bytes(rtp_dtmf.voice_pcap(0.6, seq=3000, timestamp=160_000, silence_s=3.0))
        machine.write_bytes(rtp_dtmf.voice_pcap(4.0, seq=3000, timestamp=160_000, silence_s=1.0))
        scenario = ((SCENARIOS / "customer_population.xml").read_text()
                    .replace("{ring_ms}", str(int(ring_ms))).replace("{talk_ms}", str(int(talk_ms)))
                    .replace("{human_pcap}", f"{WORK_IN_ROOT}/{human.name}")
                    .replace("{machine_pcap}", f"{WORK_IN_ROOT}/{machine.name}"))
        run = await self.start("customers", scenario, ["-p", str(port), "-mp", str(port + 2000), "-s", "customer",
                                                       "-m", str(calls), "-timeout", "3600s"])
        return CustomerPopulation(run)

    async def carrier_registrar(self, port: int, *, user: str, password: str, local_ip: str) -> SippRun:
        """A carrier the center registers with (digest-checked REGISTER and INVITE, OPTIONS answered) on
        ``local_ip``:``port``; its log says who registered and the caller ID of each outbound call."""
        return await self.start("carrier-registrar", "carrier_registrar.xml",
                                ["-p", str(port), "-mp", str(port + 2000), "-set", "user", user,
                                 "-set", "password", password, "-m", "100000", "-timeout", "600s"],
                                local_ip=local_ip)

    async def carrier_call(self, ruri: str, *, did: str, caller: str, port: int, local_ip: str,
                           hold_ms: int = 3000) -> SippRun:
        """A call from a carrier to ``ruri`` with the DID in To; exits 0 once answered and hung up."""
        scenario = ((SCENARIOS / "carrier_call.xml").read_text().replace("{ruri}", ruri).replace("{did}", did)
                    .replace("{caller}", caller).replace("{hold_ms}", str(int(hold_ms))))
        return await self.start("carrier-call", scenario,
                                ["-p", str(port), "-mp", str(port + 2000), "-m", "1", "-recv_timeout", "20000"],
                                local_ip=local_ip)

    async def carrier_congested(self, port: int, *, local_ip: str) -> SippRun:
        """A carrier answering every INVITE with 503; its log names the request URI of each."""
        return await self.start("carrier-congested", "carrier_congested.xml",
                                ["-p", str(port), "-mp", str(port + 2000), "-m", "100000", "-timeout", "600s"],
                                local_ip=local_ip)

    async def stop_all(self) -> None:
        for run in self._runs:
            await run.stop()
        self._runs.clear()
