"""Tests of the engine package on real footage (no Django needed by the tests themselves)."""
