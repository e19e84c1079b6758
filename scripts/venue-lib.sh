# Starting the venue simulator and pointing an engine config at it, for the scripts that run
# the engine on it (scripts/demo.sh, scripts/pgo.sh). Source it after setting `root` (the
# repository) and `set -euo pipefail`.

# venue_start DIR LOG COMMAND...
# Runs COMMAND (the venue binary and its arguments; a prefix such as taskset may come first)
# with `--data-dir DIR` in the background, its stderr to LOG, sets `venue_pid`, and waits until
# the venue has written DIR/venue.json (the addresses it listens on). Fails, with the venue's
# log, if it exits first, or after 10 s.
venue_start() {
    local dir="$1" log="$2"
    shift 2
    rm -f "$dir/venue.json"
    "$@" --data-dir "$dir" 2> "$log" &
    venue_pid=$!
    for _ in $(seq 1 200); do
        [ -s "$dir/venue.json" ] && return 0
        kill -0 "$venue_pid" 2>/dev/null || { cat "$log" >&2; return 1; }
        sleep 0.05
    done
    echo "$(basename "$0"): the venue did not write $dir/venue.json within 10 s" >&2
    return 1
}

# venue_field DIR NAME
# A field of DIR/venue.json: venue (the WebSocket base URL), rest, venue_admin, ca_file (empty
# when the venue is plain TCP).
venue_field() {
    python3 -c "import json,sys; v = json.load(open(sys.argv[1]))[sys.argv[2]]; print('' if v is None else v)" \
        "$1/venue.json" "$2"
}

# venue_config DIR INSTANCE RUN_DIR OUT [SED_ARGS...]
# Writes OUT: config/demo.toml with the instance name, run directory and the addresses and CA of
# the venue whose data directory is DIR (no `ca_file` lines for a plain-TCP venue), then any
# further sed arguments (`-e 's|...|...|'`).
venue_config() {
    local dir="$1" instance="$2" run_dir="$3" out="$4"
    shift 4
    local ws rest ca ca_line
    ws=$(venue_field "$dir" venue)
    rest=$(venue_field "$dir" rest)
    ca=$(venue_field "$dir" ca_file)
    ca_line="s|run/venue/venue-ca.pem|$ca|"
    [ -z "$ca" ] && ca_line='/^ca_file = /d'
    sed -e "s|^instance = .*|instance = \"$instance\"|" \
        -e "s|^run_dir = .*|run_dir = \"$run_dir\"|" \
        -e "s|wss://127.0.0.1:9443|$ws|" \
        -e "s|https://127.0.0.1:9443|$rest|" \
        -e "$ca_line" \
        "$@" "$root/config/demo.toml" > "$out"
}
