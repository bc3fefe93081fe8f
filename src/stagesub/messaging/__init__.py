"""Messaging: message templates, the transactional outbox and its delivery (orchestra side)."""
