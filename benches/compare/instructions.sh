#!/bin/sh
# Instructions per request of one server on one case, client included
# (the client is the same for every server, so differences between servers
# are the servers'): two runs under callgrind, 1,000 and 3,000 requests,
# and the difference divided by 2,000, so start-up and warm-up cancel out.
#
#   ./instructions.sh wiretape 100 get      # SERVER ROUTES get|concurrent|post
#
# Needs valgrind and a release build (`cargo build --release`).
set -eu
server=$1 routes=$2 mode=$3
bin=${CARGO_TARGET_DIR:-target}/release/instructions
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$server" "$routes" "$mode" "$1" 2>&1 |
        sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
low=$(count 1000)
high=$(count 3000)
echo "$server $routes route(s) $mode: $(( (high - low) / 2000 )) instructions per request"
