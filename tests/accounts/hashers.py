"""A real password hasher (MD5, fast, for tests) that counts the passwords it checks.

Counting at the hasher is what an attacker's budget is about: how many guesses were tested
against the stored hash, whatever the responses said.
"""

from __future__ import annotations

import threading
import time

from django.contrib.auth.hashers import MD5PasswordHasher


class CountingHasher(MD5PasswordHasher):
    checks = 0
    # Seconds each check takes, as Argon2 would: widens the window concurrent guesses race in.
    delay = 0.0
    _lock = threading.Lock()

    def verify(self, password, encoded):
        with CountingHasher._lock:
            CountingHasher.checks += 1
        time.sleep(CountingHasher.delay)
        return super().verify(password, encoded)
