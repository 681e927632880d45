"""Trunks into Asterisk's configuration (pure, deterministic): PJSIP objects and, for a registering
trunk, the dialplan context its calls arrive in.

Each trunk is one endpoint, aor, identify (when it has networks), auth (when it authenticates) and
registration (when it registers), all named after the trunk (PJSIP keeps one namespace per type; a
trunk's name is never a phone's, store/trunks.py sees to it). The templates ``trunk-endpoint``,
``trunk-aor`` and ``trunk-identify`` of asterisk-config/pjsip.conf hold what every trunk shares.
"""

from __future__ import annotations

from collections.abc import Iterable

from middleware.trunks.spec import Trunk

HEADER_NOTE = "; ---- carrier trunks (callcenter trunk add) ----\n"
INBOUND_CONTEXT = "from-trunk"  # dialplans/extensions.conf: a carrier reaches the DIDs only


def inbound_context(trunk: Trunk) -> str:
    """Where the trunk's calls arrive: a registering carrier sends them to the registered user, with
    the DID in To, so its own context maps that user to the DID first."""
    return f"{INBOUND_CONTEXT}-{trunk.name}" if trunk.register else INBOUND_CONTEXT


def render_trunk(t: Trunk) -> str:
    out = [f"\n; trunk {t.name}\n[{t.name}](trunk-endpoint)\naors = {t.name}\ncontext = {inbound_context(t)}\n",
           f"disallow = all\nallow = {','.join(t.codecs)}\ndtmf_mode = {t.dtmf_mode}\n",
           f"send_pai = {'yes' if t.caller_id == 'pai' else 'no'}\n",
           f"send_rpid = {'yes' if t.caller_id == 'rpid' else 'no'}\n"]
    if t.username is not None:
        out.append(f"outbound_auth = {t.name}\n")
        if t.host is not None:
            out.append(f"from_domain = {t.host}\n")
    out.append(f"[{t.name}](trunk-aor)\n")
    if t.host is not None:
        out.append(f"contact = sip:{_hostport(t)}\n")
    out.append(f"qualify_frequency = {t.qualify_s if t.host is not None else 0}\n")
    if t.match:
        out.append(f"[{t.name}](trunk-identify)\nendpoint = {t.name}\nmatch = {','.join(t.match)}\n")
    if t.username is not None:
        out.append(f"[{t.name}]\ntype = auth\nauth_type = userpass\nusername = {t.username}\n"
                   f"password = {t.password}\n")
    if t.register:
        assert t.host is not None and t.username is not None  # spec.check
        out.append(f"[{t.name}]\ntype = registration\ntransport = transport-udp\noutbound_auth = {t.name}\n"
                   f"server_uri = {server_uri(t)}\nclient_uri = {client_uri(t)}\n"
                   f"contact_user = {t.registered_user}\n"
                   # The carrier's calls carry the registration's line parameter: that identifies them
                   # even from an address no network of the trunk covers.
                   "line = yes\n"
                   f"endpoint = {t.name}\nexpiration = 600\nretry_interval = 30\n"
                   "forbidden_retry_interval = 300\nmax_retries = 100000\nauth_rejection_permanent = no\n")
    return "".join(out)


def _hostport(t: Trunk) -> str:
    host = f"[{t.host}]" if t.host and ":" in t.host else t.host
    return f"{host}:{t.port}"


def server_uri(t: Trunk) -> str:
    """The registrar a registering trunk registers with (Asterisk's Registry events name it so)."""
    return f"sip:{_hostport(t)}"


def client_uri(t: Trunk) -> str:
    """The address of record it registers (the Registry events' Username)."""
    return f"sip:{t.username}@{_hostport(t)}"


def render_trunks(trunks: Iterable[Trunk]) -> str:
    trunks = list(trunks)
    return (HEADER_NOTE + "".join(render_trunk(t) for t in trunks)) if trunks else ""


def render_trunk_contexts(trunks: Iterable[Trunk]) -> str:
    """Per registering trunk: its registered user -> the DID in To (e.g. ``<sip:+15551000@center>``);
    a call to any other number is taken as the DID itself, as from any trunk."""
    out = []
    for t in trunks:
        if not t.register:
            continue
        out.append(f"\n[{inbound_context(t)}]\n"
                   f"exten => {t.registered_user},1,Set(CC_TO=${{PJSIP_HEADER(read,To)}})\n"
                   " same => n,Set(CC_TO=${CUT(CC_TO,@,1)})\n"
                   " same => n,Set(CC_TO=${CUT(CC_TO,:,2)})\n"
                   " same => n,Set(CC_TO=${IF($[\"${CC_TO}\" = \"\"]?${EXTEN}:${CC_TO})})\n"
                   # The call record's DID: the channel was made on the registered user, not the DID.
                   " same => n,UserEvent(CCTrunkDid,Did: ${CC_TO})\n"
                   f" same => n,Goto({INBOUND_CONTEXT},${{CC_TO}},1)\n"
                   f"include => {INBOUND_CONTEXT}\n")
    return "".join(out)
