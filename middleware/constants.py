"""Channel variables shared by the dialplan (dialplans/*.conf, the rendered extensions) and the
middleware: every ``CC_*`` name the Python code sets or reads is here, once.

A name set with ``inherited()`` ("__" prefix) is copied to every channel the call creates (agents'
legs, Local channels, the customer's leg of a callback); plain names stay on the channel they are set on.
"""

# -- set per DID by the rendered dialplan, read by the IVR --
CC_TENANT = "CC_TENANT"  # tenant code, set per DID (and on each phone's endpoint)
CC_DID = "CC_DID"  # the DID the caller dialled
CC_FALLBACK_QUEUE = "CC_FALLBACK_QUEUE"  # where the call goes when the IVR cannot run
CC_LINKEDID = "CC_LINKEDID"  # the call's linkedid, inherited by every leg
CC_RECORD = "CC_RECORD"  # "1": MixMonitor the call (the tenant's or DID's recording policy)
CC_RECORD_CONSENT = "CC_RECORD_CONSENT"  # the prompt that tells the caller the call is recorded
CC_CSAT = "CC_CSAT"  # the tenant's post-call survey prompt (the csat route runs after the agent hangs up)

# -- the IVR's verdict --
CC_ROUTE = "CC_ROUTE"  # queue | voicemail | transfer | hangup
CC_QUEUE = "CC_QUEUE"  # the queue the IVR chose (also: the campaign's and the callback's queue)
CC_MAILBOX = "CC_MAILBOX"  # voicemail box (in the tenant's voicemail context) for ROUTE_VOICEMAIL
CC_TRANSFER_DIAL = "CC_TRANSFER_DIAL"  # Dial() string for ROUTE_TRANSFER ('^' between an outside call's legs)
CC_TRANSFER_CID = "CC_TRANSFER_CID"  # the caller ID an outside transfer's route presents ('' keeps the caller's)
CC_TRANSFER_PHONE = "CC_TRANSFER_PHONE"  # the phone an agent's blind transfer extension rings
CC_AGI_ERROR = "CC_AGI_ERROR"  # why the middleware could not decide (dialplan falls back)
QUEUE_PRIO = "QUEUE_PRIO"  # app_queue's own: the caller's priority in the queue
QUEUE_MAX_PENALTY = "QUEUE_MAX_PENALTY"  # app_queue's own: the widening rule's first step

# -- what the IVR learned, on every leg (screen pop headers, the agent's phone display) --
CC_IVR_DIGITS = "CC_IVR_DIGITS"  # every digit the caller pressed in the IVR, in order
CC_CUSTOMER_ID = "CC_CUSTOMER_ID"
CC_CUSTOMER_NAME = "CC_CUSTOMER_NAME"
CC_CUSTOMER_TIER = "CC_CUSTOMER_TIER"
CC_ACCOUNT = "CC_ACCOUNT"
CC_REASON = "CC_REASON"  # why the customer calls (the IVR's choice), or the campaign for outbound calls
CC_SKILLS = "CC_SKILLS"
CC_LANGUAGE = "CC_LANGUAGE"
CC_IVR_PATH = "CC_IVR_PATH"

# -- callbacks: the request route, and the Originate that places one --
CC_CALLBACK_ID = "CC_CALLBACK_ID"  # set by the callback route once the request is stored
CC_CALLBACK_REFUSED = "CC_CALLBACK_REFUSED"  # "1": the number may not be called back; back into the queue
CC_REQUEUE_POSITION = "CC_REQUEUE_POSITION"  # the place a refused callback's caller held in the queue
CC_CALLBACK_NUMBER = "CC_CALLBACK_NUMBER"  # the customer's number (E.164, judged by the dialing policy)
CC_OUT_DIAL = "CC_OUT_DIAL"  # an agent's own outside call: its legs' Dial strings ('^' between them)
CC_OUT_CID = "CC_OUT_CID"  # ... the caller ID it presents (the route's, else the tenant's main number)
CC_OUT_ROUTE = "CC_OUT_ROUTE"  # ... trunk | emergency | refused
CC_EMERGENCY_NUMBER = "CC_EMERGENCY_NUMBER"  # the emergency number dialled ([emergency-<tenant>])
CC_CALLBACK_DIAL = "CC_CALLBACK_DIAL"  # its legs' Dial strings ([trunk-out]: '^' between them)
CC_CALLBACK_POSITION = "CC_CALLBACK_POSITION"  # the place the callback takes in the queue
CC_CALLBACK_CID = "CC_CALLBACK_CID"  # the caller ID the customer sees: the DID they called

# -- the dialer's Originate, read by [dialer] --
CC_ATTEMPT = "CC_ATTEMPT"
CC_CAMPAIGN = "CC_CAMPAIGN"
CC_NUMBER = "CC_NUMBER"
CC_CONNECT_S = "CC_CONNECT_S"  # a live answer reaches an agent within this, or it is abandoned
CC_AMD = "CC_AMD"  # "1": answering-machine detection
CC_MACHINE_ACTION = "CC_MACHINE_ACTION"  # hangup | message | agent
CC_MACHINE_PROMPT = "CC_MACHINE_PROMPT"
CC_SAFE_HARBOR = "CC_SAFE_HARBOR"  # the message an abandoned live answer hears

# -- agents' feature codes and supervision --
CC_AGENT_RESULT = "CC_AGENT_RESULT"  # outcome of an agent feature code
CC_AGENT_CODE = "CC_AGENT_CODE"  # the agent whose phone dialled it (AgentLogin needs it)
CC_AGENT_PROMPT = "CC_AGENT_PROMPT"  # prompt that tells the agent that outcome
CC_SPY_TARGET = "CC_SPY_TARGET"  # ChanSpy's channel prefix: the agent's phone
CC_SPY_OPTIONS = "CC_SPY_OPTIONS"  # ChanSpy's options: listen, whisper or barge

ROUTE_QUEUE = "queue"
ROUTE_VOICEMAIL = "voicemail"
ROUTE_TRANSFER = "transfer"
ROUTE_HANGUP = "hangup"


def inherited(name: str) -> str:
    """The name that makes Asterisk copy the variable to every channel the call creates."""
    return f"__{name}"
