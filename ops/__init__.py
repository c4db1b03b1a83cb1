"""Operational commands behind the Makefile: environment, training, supervision."""
