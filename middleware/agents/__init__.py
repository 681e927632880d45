"""Agents: the state machine (pure) and the service that drives queue membership over AMI."""
