"""Callbacks: a caller asks to be called back instead of waiting (IVR menu, or key 1 in the queue);
the request is judged by the tenant's dialing policy, stored, and placed through the queue itself at
the place the caller held."""
