"""Channel variables shared by the dialplan (dialplans/extensions.conf) and the middleware."""

CC_TENANT = "CC_TENANT"  # tenant code, set per DID
CC_DID = "CC_DID"  # the DID the caller dialled
CC_FALLBACK_QUEUE = "CC_FALLBACK_QUEUE"  # where the call goes when the IVR cannot run
CC_LINKEDID = "CC_LINKEDID"  # the call's linkedid, inherited by every leg
CC_ROUTE = "CC_ROUTE"  # the IVR's verdict: queue | hangup
CC_QUEUE = "CC_QUEUE"  # the queue the IVR chose
CC_IVR_DIGITS = "CC_IVR_DIGITS"  # every digit the caller pressed in the IVR, in order
CC_CALLBACK_ID = "CC_CALLBACK_ID"  # set by the callback route once the request is stored
CC_CALLBACK_REFUSED = "CC_CALLBACK_REFUSED"  # "1": the number may not be called back; back into the queue
CC_REQUEUE_POSITION = "CC_REQUEUE_POSITION"  # the place a refused callback's caller held in the queue
CC_AGI_ERROR = "CC_AGI_ERROR"  # why the middleware could not decide (dialplan falls back)
CC_AGENT_RESULT = "CC_AGENT_RESULT"  # outcome of an agent feature code
CC_AGENT_CODE = "CC_AGENT_CODE"  # the agent whose phone dialled it (AgentLogin needs it)
CC_AGENT_PROMPT = "CC_AGENT_PROMPT"  # prompt that tells the agent that outcome

CC_MAILBOX = "CC_MAILBOX"  # voicemail box (in the tenant's voicemail context) for ROUTE_VOICEMAIL
CC_TRANSFER_DIAL = "CC_TRANSFER_DIAL"  # Dial() string for ROUTE_TRANSFER

ROUTE_QUEUE = "queue"
ROUTE_VOICEMAIL = "voicemail"
ROUTE_TRANSFER = "transfer"
ROUTE_HANGUP = "hangup"
