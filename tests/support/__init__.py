"""Helpers shared by the test suite (test data fetching, image synthesis, fake camera)."""
