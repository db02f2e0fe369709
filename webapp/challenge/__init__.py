"""Active liveness: challenge steps and the landmark geometry they read."""
