"""Runnable example agents (each has a README); load one with ``--agent examples.NAME:build``."""
