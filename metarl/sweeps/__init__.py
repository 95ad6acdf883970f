"""Sweeps: named axes over one experiment, trained and evaluated as vmapped groups."""
