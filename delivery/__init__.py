"""Delivery of alerts to people: e-mail, chat webhooks, or files (a local sink for demos and tests)."""
