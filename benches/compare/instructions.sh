#!/bin/sh
# Instructions per request of one server on one case, client included
# (the client is the same for every server, so differences between servers
# are the servers'): two runs under callgrind, LOW and HIGH requests
# (default 1,000 and 3,000), and the difference divided by HIGH - LOW, so
# start-up and warm-up cancel out. It also prints the server's threads and
# the client's apart (callgrind's --separate-threads).
#
#   ./instructions.sh wiretape 100 get              # SERVER ROUTES get|concurrent|post
#   ./instructions.sh wiretape 100 get 11000 13000  # past the journal's 10,000-entry ring
#
# Needs valgrind and a release build (`cargo build --release`).
set -eu
server=$1 routes=$2 mode=$3 low=${4:-1000} high=${5:-3000}
bin=${CARGO_TARGET_DIR:-target}/release/instructions
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for n in "$low" "$high"; do
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/$n" \
        "$bin" "$server" "$routes" "$mode" "$n" >/dev/null 2>&1
done
# Thread 1 is the client (the main thread); every other thread is the
# server's (some servers run more than one).
thread() {
    sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out/$1-01"
}
all() {
    cat "$out/$1"-* | sed -n 's/^summary: *\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s }'
}
total=$(( ($(all "$high") - $(all "$low")) / (high - low) ))
client=$(( ($(thread "$high") - $(thread "$low")) / (high - low) ))
echo "$server $routes route(s) $mode: $total instructions per request" \
    "(server $((total - client)), client thread $client)"
