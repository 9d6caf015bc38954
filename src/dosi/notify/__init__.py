"""Delivery of notifications from the outbox: the worker and its senders (HTTP, MQTT)."""
