"""Examples that use LiveGate from the outside."""
