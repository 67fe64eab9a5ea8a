"""Test support: fixtures, harnesses, helper processes."""
