"""`python3 -m app`: serve on $BIND_HOST (default 0.0.0.0) port $PORT (default 8080) until SIGTERM."""

import sys

from app.server import run

sys.exit(run())
