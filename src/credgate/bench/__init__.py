"""Benchmarks that measure credgate against a baseline in the same run, on the same server.

This machine is noisy, so absolute numbers mean little; each benchmark prints the ratio of two
figures measured back to back against one server process, alternating the two loads.
"""
