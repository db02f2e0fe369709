# Copy to instance/config.py and edit. Every key and its default is in webapp/config.py.

# Identity: stricter or looser 1:1 matching (dlib distance; smaller = stricter).
# IDENTITY_TOLERANCE = 0.5

# Active liveness: which steps the server may ask for, and how many per attempt.
# CHALLENGE_STEPS = ["blink", "turn_left", "turn_right"]
# CHALLENGE_COUNT = 2

# Behind HTTPS (a reverse proxy), send the session cookie only over HTTPS, and trust the
# proxy's X-Forwarded-For for client addresses (rate limits, audit) -- only when the app port
# is reachable from the proxy alone (README: Security).
# SESSION_COOKIE_SECURE = True
# TRUSTED_PROXIES = 1

# Per-address limits shared by every worker and machine (default: each process counts alone).
# REDIS_URL = "redis://localhost:6379/0"

# Retention, in days (`flask prune`).
# RETAIN_SIGNALS_DAYS = 30
# RETAIN_ATTEMPTS_DAYS = 180

# Another database (PostgreSQL for several machines is on the roadmap; SQLite by default).
# SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://livegate:secret@db/livegate"
