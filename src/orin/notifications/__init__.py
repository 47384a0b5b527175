"""Notifications: catches delivered to people (push, email, SMS, webhook) and to MQTT."""
