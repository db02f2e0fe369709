"""Speed measurements (not tests: nothing here asserts on time)."""
