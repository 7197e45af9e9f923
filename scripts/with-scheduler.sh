#!/usr/bin/env bash
# Run a command in the foreground with `fxticker schedule` beside it in the background (make run).
# When the command ends, however it ends, the scheduler gets SIGTERM, finishes its current page and exits;
# it is never left running on its own. FXTICKER names the fxticker executable (default: fxticker on PATH).
set -euo pipefail

fxticker="${FXTICKER:-fxticker}"
"$fxticker" schedule &
scheduler=$!

stop_scheduler() {
    if kill -0 "$scheduler" 2>/dev/null; then
        kill -TERM "$scheduler" 2>/dev/null || true
    fi
    wait "$scheduler" 2>/dev/null || true
}
trap stop_scheduler EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$@"
