"""Loaded by every Python process the tests start (its folder is on PYTHONPATH): no socket of this
process may connect anywhere but loopback. See tests/netguard/guard.py."""
import guard_loopback

guard_loopback.install()
