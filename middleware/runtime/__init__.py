"""Runtime plumbing: the Asterisk rootfs, the local stack (chroot or docker compose), PostgreSQL."""
