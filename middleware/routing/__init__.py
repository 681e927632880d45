"""Routing: skills, proficiency and how a queue's pool of agents widens as a caller waits. Pure."""
