"""SMS: requests by text message (46elks) and answers by reply (`JA 4821`)."""
