"""The login flow: attempts, frames, the decision policy, throttling."""
