"""Probes of frozen agents: what kind of thing improves inside an episode.

Each probe is an instrument validated (in tests) on reference agents whose
mechanism is known before it is pointed at a checkpoint.
"""
