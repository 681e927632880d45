"""Provisioning: PostgreSQL rows rendered into the Asterisk config files it #includes. Render is pure."""
