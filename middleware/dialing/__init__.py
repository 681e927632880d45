"""Outbound dialing policy: which numbers a tenant's calls may reach, and when."""
