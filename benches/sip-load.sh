#!/usr/bin/env bash
# benches/sip-load.sh RATE [DURATION_S]: a SIPp call-load run through
# sip-control, with the media anchored on media-core (or rtpengine).
#
#   carrier  SIPp carrier_uac.xml  -r RATE -m RATE*DURATION -l LIMIT -d HOLD_MS
#      |  INVITE/ACK/BYE (UDP)            RTP (g711a.pcap, 30 ms PCMA) both ways
#   sip-control (release)  ----NG---->  media-core (release) / rtpengine
#      |  INVITE/ACK/BYE (UDP)            RTP
#   platform SIPp platform_uas.xml (no -m, ended with SIGUSR1)
#
# Prints: SIPp successful/failed calls (both sides), the achieved call rate,
# sip-control's and the media node's CPU (utime+stime from /proc/PID/stat,
# before/after) per call, TTFA and answer-time p50/p99 from sip-control's
# CDR lines (ttfa_ms, answer_after_ms), the carrier-side answer time from
# SIPp's -trace_rtt, sip-control's own counters (/metrics), and what to
# look at when calls fail: the media node's NG round trip (a `ping` every
# 100 ms), receive-buffer drops on the NG and SIP sockets, CPU per second
# of every process and of the rest of the host (cpu.csv), failures by the
# time their INVITE came. Exit status 0 only if every call succeeded on
# both SIPp sides and in sip-control; OUT/summary.json has the figures.
#
# Media is SIPp's play_pcap_audio: one thread per call and side, so SIPp's
# own CPU grows with concurrency (rate x hold); on a small host keep
# HOLD_MS short (docs/BENCHMARKS.md, "SIP signaling").
#
# Environment (defaults in brackets):
#   HOLD_MS [500]       carrier's time in the call after the ACK (-d)
#   LIMIT   [auto]      SIPp's most concurrent calls (-l): RATE*(HOLD+2 s)
#   NODE    [media-core] or rtpengine
#   WORKERS [1]         media-core --workers / rtpengine --num-threads
#   PIN     [none]      "split": sip-control + media node on CPU 0, both
#                       SIPps on CPU 1 (taskset); "none": no pinning
#   ADDR    [127.0.0.1] SIP address of every process (and NG)
#   MEDIA_ADDR [127.0.0.2] the media node's interface: its own loopback
#                       address, so its lazily bound ports never collide
#                       with tests running on 127.0.0.1 meanwhile
#   PORT_MIN/PORT_MAX [20000/29999] the media node's port range (4 per call)
#   BASE    [31000]     SIP/NG/metrics/SIPp ports: BASE..BASE+99
#   OUT     [mktemp]    run directory (configs, logs, CDRs, SIPp files)
#   CARGO_TARGET_DIR [target]  where the release binaries are
#                       (cargo build --release -p media-core -p sip-control)
#   SLUICE_LOG [info,rsipstack=warn]  sip-control's log filter
#   RATE_PER_SOURCE [unset]  sip-control's [security] rate-per-source and
#                       burst-per-source; unset keeps the defaults (1000/s,
#                       burst 2000: about 330 calls/s from one carrier address)
#
# Every process is started by this script, tracked by PID and ended by PID
# on exit, failure or ^C; every wait is bounded.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"

RATE="${1:?usage: benches/sip-load.sh RATE [DURATION_S]}"
DURATION="${2:-60}"
HOLD_MS="${HOLD_MS:-500}"
NODE="${NODE:-media-core}"
WORKERS="${WORKERS:-1}"
PIN="${PIN:-none}"
ADDR="${ADDR:-127.0.0.1}"
MEDIA_ADDR="${MEDIA_ADDR:-127.0.0.2}"
PORT_MIN="${PORT_MIN:-20000}"
PORT_MAX="${PORT_MAX:-29999}"
BASE="${BASE:-31000}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}/release"
CALLS=$((RATE * DURATION))
LIMIT="${LIMIT:-$((RATE * (HOLD_MS + 2000) / 1000))}"
DID="+15551230001"
RATE_PER_SOURCE="${RATE_PER_SOURCE:-}"

SIP_PORT=$((BASE + 60))       # sip-control, UDP
METRICS_PORT=$((BASE + 90))   # sip-control, TCP
NG_PORT=$((BASE + 22))        # media node NG, UDP
UAS_PORT=$((BASE + 10))       # platform SIPp
UAS_MEDIA=$((BASE + 40))      # platform SIPp RTP (binds +0 and +2)
UAC_PORT=$((BASE + 0))        # carrier SIPp
UAC_MEDIA=$((BASE + 30))      # carrier SIPp RTP (binds +0 and +2)
UAS_CTRL=$((BASE + 50))       # SIPp control sockets
UAC_CTRL=$((BASE + 51))

case "$PIN" in
    split) PIN_RELAY=(taskset -c 0); PIN_SIPP=(taskset -c 1) ;;
    none) PIN_RELAY=(); PIN_SIPP=() ;;
    *) echo "sip-load: PIN must be split or none" >&2; exit 2 ;;
esac

for bin in "$TARGET/sip-control" sipp; do
    command -v "$bin" >/dev/null || { echo "sip-load: $bin missing (cargo build --release -p sip-control -p media-core; apt install sip-tester)" >&2; exit 2; }
done
if [ "$NODE" = media-core ]; then
    [ -x "$TARGET/media-core" ] || { echo "sip-load: $TARGET/media-core missing" >&2; exit 2; }
else
    command -v rtpengine >/dev/null || { echo "sip-load: rtpengine missing" >&2; exit 2; }
fi

OUT="${OUT:-$(mktemp -d /tmp/sip-load.XXXXXX)}"
mkdir -p "$OUT"
ln -sfn /usr/share/sip-tester "$OUT/pcap"
cp tests/sipp/carrier_uac.xml tests/sipp/platform_uas.xml "$OUT/"

# ---- processes, each ended by PID ------------------------------------------
PIDS=()   # in start order; ended in reverse
stop_pid() { # PID SIGNAL GRACE_S
    local pid="$1" sig="$2" grace="$3" i
    kill -0 "$pid" 2>/dev/null || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${PIDS[$i]}" TERM 5
    done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

udp_bound() { ss -Hlun "sport = :$2" | grep -q "$1:$2"; }
wait_bound() { # ADDR PORT PID NAME
    local i
    for ((i = 0; i < 200; i++)); do
        udp_bound "$1" "$2" && return 0
        kill -0 "$3" 2>/dev/null || { echo "sip-load: $4 exited at start-up" >&2; tail -20 "$OUT/$4.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "sip-load: $4 did not bind $1:$2 within 20 s" >&2
    exit 1
}
for p in $SIP_PORT $NG_PORT $UAS_PORT $UAC_PORT $UAS_MEDIA $UAC_MEDIA $UAS_CTRL $UAC_CTRL; do
    if udp_bound "$ADDR" "$p"; then echo "sip-load: UDP $ADDR:$p is taken; set BASE" >&2; exit 2; fi
done
# cpu_ticks PID: utime+stime in clock ticks (fields 14 and 15).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)

# ---- media node --------------------------------------------------------------
if [ "$NODE" = media-core ]; then
    "${PIN_RELAY[@]}" "$TARGET/media-core" --interface "$MEDIA_ADDR" \
        --listen-ng "$ADDR:$NG_PORT" --port-min "$PORT_MIN" --port-max "$PORT_MAX" \
        --workers "$WORKERS" --timeout 30 >"$OUT/$NODE.log" 2>&1 &
else
    "${PIN_RELAY[@]}" rtpengine --config-file=none --foreground --log-stderr --table=-1 \
        --delete-delay=0 --interface="$MEDIA_ADDR" --listen-ng="$ADDR:$NG_PORT" \
        --port-min="$PORT_MIN" --port-max="$PORT_MAX" --num-threads="$WORKERS" \
        --timeout=30 >"$OUT/$NODE.log" 2>&1 &
fi
NODE_PID=$!
PIDS+=("$NODE_PID")
wait_bound "$ADDR" "$NG_PORT" "$NODE_PID" "$NODE"

# ---- sip-control -------------------------------------------------------------
CDR="$OUT/cdr.jsonl"
cat >"$OUT/sip-control.toml" <<EOF
[sip]
listen = [{ transport = "udp", address = "$ADDR:$SIP_PORT" }]
target-timeout = "2s"
# Pure pass-through media: no DTMF injector on the media node.
inject-dtmf = false

[[trunk]]
name = "carrier"
allow = ["127.0.0.0/8"]

[[platform]]
name = "ai"
targets = ["sip:agent@$ADDR:$UAS_PORT"]
probe-interval = "0s"

[[did]]
number = "$DID"
platform = "ai"

[media]
nodes = [{ name = "$NODE", address = "$ADDR:$NG_PORT" }]

$(if [ -n "$RATE_PER_SOURCE" ]; then
    printf '[security]\nrate-per-source = %s\nburst-per-source = %s\n' "$RATE_PER_SOURCE" "$RATE_PER_SOURCE"
fi)

[observability]
metrics = "$ADDR:$METRICS_PORT"
cdr = "$CDR"
EOF
"${PIN_RELAY[@]}" env SLUICE_LOG="${SLUICE_LOG:-info,rsipstack=warn}" \
    "$TARGET/sip-control" --config "$OUT/sip-control.toml" --shutdown-grace 2s \
    >"$OUT/sip-control.log" 2>&1 &
SC_PID=$!
PIDS+=("$SC_PID")
wait_bound "$ADDR" "$SIP_PORT" "$SC_PID" sip-control

# ---- platform UAS ------------------------------------------------------------
SIPP_COMMON=(-nostdin -timeout_error -trace_stat -fd 1 -trace_err)
(cd "$OUT" && exec "${PIN_SIPP[@]}" sipp -sf platform_uas.xml \
    -i "$ADDR" -p "$UAS_PORT" -mi "$ADDR" -mp "$UAS_MEDIA" -ci "$ADDR" -cp "$UAS_CTRL" \
    -timeout "$((DURATION + 120))s" "${SIPP_COMMON[@]}" \
    -stf uas_stat.csv -error_file uas_errors.log) >"$OUT/uas.log" 2>&1 &
UAS_PID=$!
PIDS+=("$UAS_PID")
wait_bound "$ADDR" "$UAS_PORT" "$UAS_PID" uas

# ---- per-second CPU sampler (who saturates) -----------------------------------
(
    # node_main: the media node's main thread (media-core: the NG thread);
    # loadavg1 counts SIPp's media threads too.
    # host_busy: all CPUs' user+nice+system+irq+softirq ticks (/proc/stat),
    # to see other load; host_steal: time the hypervisor gave elsewhere.
    # *_drops: datagrams dropped so far for a full receive buffer (skmem d)
    # on the media node's NG socket, sip-control's SIP socket and its other
    # sockets (the NG client).
    echo "uptime_s;sip_control_ticks;${NODE}_ticks;uas_ticks;uac_ticks;node_main_ticks;host_busy_ticks;host_steal_ticks;loadavg1;ng_drops;sip_drops;sc_other_drops"
    while sleep 1; do
        uac=$(cat "$OUT/uac.pid" 2>/dev/null || echo 0)
        drops=$(ss -Huampn 2>/dev/null | awk -v sc="pid=$SC_PID," -v node="pid=$NODE_PID," -v ng=":$NG_PORT" -v sip=":$SIP_PORT" '
            /users:/ { who = ""; if (index($0, node) && $4 ~ ng "$") who = "ng"; else if (index($0, sc)) who = ($4 ~ sip "$") ? "sip" : "other"; next }
            who != "" && match($0, /,d[0-9]+\)/) { d[who] += substr($0, RSTART + 2, RLENGTH - 3); who = "" }
            END { printf "%d;%d;%d", d["ng"], d["sip"], d["other"] }')
        echo "$(cut -d' ' -f1 /proc/uptime);$(cpu_ticks "$SC_PID");$(cpu_ticks "$NODE_PID");$(cpu_ticks "$UAS_PID");$(cpu_ticks "$uac");$(cpu_ticks "$NODE_PID/task/$NODE_PID");$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 ";" $9; exit}' /proc/stat);$(cut -d' ' -f1 /proc/loadavg);$drops"
    done
) >"$OUT/cpu.csv" 2>/dev/null &
PIDS+=("$!")

# ---- NG ping probe: how long the media node's NG thread takes to answer -------
# A ping every 100 ms from its own socket (an NG `ping` needs no worker, so
# its round trip is the queueing in front of the NG thread); one line per
# ping: seconds since start, round trip in ms (or "lost" after 2 s).
python3 - "$ADDR" "$NG_PORT" "$((DURATION + 90))" >"$OUT/ng_ping.csv" 2>/dev/null <<'PY' &
import socket, sys, time
addr, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2.0)
t0 = time.monotonic()
n = 0
while time.monotonic() - t0 < limit:
    n += 1
    cookie = f"probe{n}".encode()
    sent = time.monotonic()
    s.sendto(cookie + b" d7:command4:pinge", (addr, port))
    result = "lost"
    try:
        while True:
            data, _ = s.recvfrom(65535)
            if data.startswith(cookie + b" "):
                result = f"{(time.monotonic() - sent) * 1000:.2f}"
                break
    except socket.timeout:
        pass
    print(f"{sent - t0:.2f};{result}", flush=True)
    time.sleep(max(0.0, 0.1 - (time.monotonic() - sent)))
PY
PIDS+=("$!")

# ---- carrier UAC: the load ----------------------------------------------------
echo "sip-load: $NODE, rate $RATE/s for ${DURATION}s ($CALLS calls), hold ${HOLD_MS} ms, -l $LIMIT, pin $PIN, load $(cut -d' ' -f1-3 /proc/loadavg), out $OUT" >&2
SC0=$(cpu_ticks "$SC_PID"); NODE0=$(cpu_ticks "$NODE_PID"); UAS0=$(cpu_ticks "$UAS_PID")
T0=$(date +%s.%N); UP0=$(cut -d' ' -f1 /proc/uptime)
(cd "$OUT" && exec "${PIN_SIPP[@]}" sipp -sf carrier_uac.xml "$ADDR:$SIP_PORT" \
    -i "$ADDR" -p "$UAC_PORT" -mi "$ADDR" -mp "$UAC_MEDIA" -ci "$ADDR" -cp "$UAC_CTRL" \
    -s "$DID" -r "$RATE" -m "$CALLS" -l "$LIMIT" -d "$HOLD_MS" -recv_timeout 10000 \
    -timeout "$((DURATION + 60))s" "${SIPP_COMMON[@]}" -trace_rtt -rtt_freq 1 \
    -stf uac_stat.csv -error_file uac_errors.log) >"$OUT/uac.log" 2>&1 &
UAC_PID=$!
PIDS+=("$UAC_PID")
echo "$UAC_PID" >"$OUT/uac.pid"
UAC_LAST=0
for ((i = 0; i < (DURATION + 75) * 10; i++)); do
    kill -0 "$UAC_PID" 2>/dev/null || break
    # (a zombie's stat reads 0: keep the largest value seen)
    ticks=$(cpu_ticks "$UAC_PID")
    [ "$ticks" -gt "$UAC_LAST" ] && UAC_LAST=$ticks
    sleep 0.1
done
UAC_STATUS=0
if kill -0 "$UAC_PID" 2>/dev/null; then
    echo "sip-load: the carrier SIPp outlived its bound; killing it" >&2
    stop_pid "$UAC_PID" KILL 1
    UAC_STATUS=124
else
    wait "$UAC_PID" || UAC_STATUS=$?
fi
T1=$(date +%s.%N)

# Every call sip-control took has a CDR line once it is torn down.
for ((i = 0; i < 150; i++)); do
    seen=$(curl -s --max-time 2 "http://$ADDR:$METRICS_PORT/metrics" | awk '/^sluice_sip_calls_total/ {s += $NF} END {print s + 0}')
    lines=$(wc -l <"$CDR" 2>/dev/null || echo 0)
    [ "$lines" -ge "$seen" ] && break
    sleep 0.1
done
SC1=$(cpu_ticks "$SC_PID"); NODE1=$(cpu_ticks "$NODE_PID"); UAS1=$(cpu_ticks "$UAS_PID")
T2=$(date +%s.%N)
# Datagrams each socket dropped for a full receive buffer (skmem d), for the
# sockets still open: the NG socket, sip-control's SIP and NG client sockets.
ss -Huampn >"$OUT/sockets.txt" 2>/dev/null || true
curl -s --max-time 5 "http://$ADDR:$METRICS_PORT/metrics" >"$OUT/metrics.txt" || true

# The platform finishes the calls it has (SIGUSR1: soft exit), then stops.
kill -USR1 "$UAS_PID" 2>/dev/null || true
UAS_STATUS=0
for ((i = 0; i < 150; i++)); do kill -0 "$UAS_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$UAS_PID" 2>/dev/null; then stop_pid "$UAS_PID" TERM 3; UAS_STATUS=124; else wait "$UAS_PID" || UAS_STATUS=$?; fi

# ---- report --------------------------------------------------------------------
python3 - "$OUT" "$HZ" "$RATE" "$DURATION" "$NODE" \
    "$SC0" "$SC1" "$NODE0" "$NODE1" "$UAS0" "$UAS1" "$UAC_LAST" \
    "$T0" "$T1" "$T2" "$UAC_STATUS" "$UAS_STATUS" \
    "$SC_PID" "$NODE_PID" "$NG_PORT" "$SIP_PORT" "$UP0" <<'PY'
import csv, glob, json, os, re, sys
out, hz, rate, duration, node = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
sc0, sc1, n0, n1, u0, u1, uac_ticks = map(int, sys.argv[6:13])
t0, t1, t2 = map(float, sys.argv[13:16])
uac_status, uas_status = int(sys.argv[16]), int(sys.argv[17])
sc_pid, node_pid, ng_port, sip_port = sys.argv[18:22]
up0 = float(sys.argv[22])
drops = {"ng": 0, "sip": 0, "sc_other": 0}
try:
    lines = open(os.path.join(out, "sockets.txt")).read().splitlines()
    for head, mem in zip(lines, lines[1:]):
        m, d = re.search(r"pid=(\d+)", head), re.search(r"\bd(\d+)\)", mem)
        if not m or not d or "skmem" not in mem:
            continue
        local = head.split()[3]
        if m.group(1) == node_pid and local.endswith(":" + ng_port):
            drops["ng"] += int(d.group(1))
        elif m.group(1) == sc_pid:
            drops["sip" if local.endswith(":" + sip_port) else "sc_other"] += int(d.group(1))
except OSError:
    pass

def last_stats(name):
    path = os.path.join(out, name)
    try:
        rows = list(csv.DictReader(open(path), delimiter=";"))
    except OSError:
        return {}
    return rows[-1] if rows else {}

def num(row, key):
    try:
        return int(float(row.get(key, 0) or 0))
    except ValueError:
        return 0

def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, max(0, -(-len(v) * p // 100) - 1))]

uac, uas = last_stats("uac_stat.csv"), last_stats("uas_stat.csv")
# SIPp's per-second dumps: peak concurrency, and the call rate it kept in
# the seconds it was creating calls (the first and last seconds left out).
rows = []
try:
    rows = list(csv.DictReader(open(os.path.join(out, "uac_stat.csv")), delimiter=";"))
except OSError:
    pass
peak = max((num(r, "CurrentCall") for r in rows), default=0)
total = num(uac, "OutgoingCall(C)")
creating = [r for r in rows if 0 < num(r, "OutgoingCall(C)") < total][1:]
second_rates = [float(r.get("CallRate(P)") or 0) for r in creating]
cdrs = []
for line in open(os.path.join(out, "cdr.jsonl")) if os.path.exists(os.path.join(out, "cdr.jsonl")) else []:
    try:
        cdrs.append(json.loads(line))
    except ValueError:
        pass
ends = {}
for c in cdrs:
    ends[c.get("end")] = ends.get(c.get("end"), 0) + 1
answered = [c for c in cdrs if c.get("answer_after_ms") is not None]
ttfa = [c["ttfa_ms"] for c in cdrs if c.get("ttfa_ms") is not None]
answer = [c["answer_after_ms"] for c in answered]
starts = sorted(c["start_ms"] for c in cdrs if c.get("start_ms"))
rate_seen = (len(starts) - 1) / ((starts[-1] - starts[0]) / 1000) if len(starts) > 1 and starts[-1] > starts[0] else 0

rtt = []
for path in glob.glob(os.path.join(out, "carrier_uac_*_rtt.csv")):
    for row in csv.reader(open(path), delimiter=";"):
        if len(row) >= 2:
            try:
                rtt.append(float(row[1]))
            except ValueError:
                pass

metrics = {}
ttfa_buckets = []
for line in open(os.path.join(out, "metrics.txt"), errors="replace") if os.path.exists(os.path.join(out, "metrics.txt")) else []:
    if line.startswith("#") or not line.strip():
        continue
    name, _, value = line.rpartition(" ")
    try:
        value = float(value)
    except ValueError:
        continue
    base = name.split("{")[0]
    metrics[base] = metrics.get(base, 0) + value
    m = re.match(r'sluice_sip_ttfa_seconds_bucket\{.*le="([^"]+)"', name)
    if m:
        ttfa_buckets.append((float("inf") if m.group(1) == "+Inf" else float(m.group(1)), value))

def hist_pct(buckets, p):
    buckets = sorted(buckets)
    if not buckets or buckets[-1][1] == 0:
        return None
    want = buckets[-1][1] * p / 100
    for le, n in buckets:
        if n >= want:
            return le
    return None

calls = num(uac, "OutgoingCall(C)") or num(uac, "TotalCallCreated")
ok, failed = num(uac, "SuccessfulCall(C)"), num(uac, "FailedCall(C)")
sc_s, node_s, uas_s, uac_s = (sc1 - sc0) / hz, (n1 - n0) / hz, (u1 - u0) / hz, uac_ticks / hz
window = t2 - t0
reasons = {k[:-3]: num(uac, k) for k in uac if k.startswith("Failed") and k.endswith("(C)") and num(uac, k)}
uas_reasons = {k[:-3]: num(uas, k) for k in uas if k.startswith("Failed") and k.endswith("(C)") and num(uas, k)}
per_call = lambda s: s * 1e6 / ok if ok else float("nan")
fmt = lambda v: "-" if v is None else f"{v:g}"

print(f"node={node} rate={rate}/s duration={duration}s window={window:.1f}s (UAC ran {t1 - t0:.1f}s)")
print(f"carrier SIPp: calls={calls} successful={ok} failed={failed} {reasons or ''} retransmissions={num(uac, 'Retransmissions(C)')} exit={uac_status} peak_concurrent={peak}")
print(f"platform SIPp: invites={num(uas, 'invites(C)')} completed={num(uas, 'completed(C)')} failed={num(uas, 'FailedCall(C)')} {uas_reasons or ''} exit={uas_status}")
print(f"sip-control: calls={metrics.get('sluice_sip_calls_total', 0):g} answered={metrics.get('sluice_sip_calls_answered_total', 0):g} failures={metrics.get('sluice_sip_call_failures_total', 0):g} rate_limited={metrics.get('sluice_sip_rate_limited_total', 0):g} cdrs={len(cdrs)} ends={ends}")
print(f"achieved rate: {rate_seen:.1f} calls/s (sip-control INVITE arrivals, first to last); SIPp per second: min {min(second_rates, default=0):.1f} mean {sum(second_rates) / max(len(second_rates), 1):.1f} over {len(second_rates)} s")
print(f"CPU: sip-control {sc_s:.2f} s = {per_call(sc_s):.0f} us/call ({100 * sc_s / window:.0f}% of a core); {node} {node_s:.2f} s = {per_call(node_s):.0f} us/call ({100 * node_s / window:.0f}%)")
print(f"CPU: platform SIPp {uas_s:.2f} s ({100 * uas_s / window:.0f}%), carrier SIPp {uac_s:.2f} s ({100 * uac_s / window:.0f}%)")
fails_by_5s = {}
if starts:
    for c in cdrs:
        if c.get("start_ms") and c.get("end") != "carrier-bye":
            k = int((c["start_ms"] - starts[0]) / 5000) * 5
            fails_by_5s[k] = fails_by_5s.get(k, 0) + 1
if fails_by_5s:
    print("sip-control failures by INVITE time (s into the run: calls): " + ", ".join(f"{k}: {v}" for k, v in sorted(fails_by_5s.items())))
print(f"TTFA ms (CDR, {len(ttfa)} calls): p50={fmt(pct(ttfa, 50))} p99={fmt(pct(ttfa, 99))} max={fmt(max(ttfa) if ttfa else None)}; histogram bucket p50<={fmt(hist_pct(ttfa_buckets, 50))}s p99<={fmt(hist_pct(ttfa_buckets, 99))}s")
print(f"answer ms (CDR answer_after_ms, {len(answer)} calls): p50={fmt(pct(answer, 50))} p99={fmt(pct(answer, 99))} max={fmt(max(answer) if answer else None)}")
pings, lost = [], 0
try:
    for line in open(os.path.join(out, "ng_ping.csv")):
        t, _, v = line.strip().partition(";")
        if float(t) > t1 - t0 + 5:
            break
        if v == "lost":
            lost += 1
        elif v:
            pings.append(float(v))
except (OSError, ValueError):
    pass
print(f"NG ping to the media node during the run ({len(pings) + lost} pings): p50={fmt(pct(pings, 50))} ms p99={fmt(pct(pings, 99))} ms max={fmt(max(pings) if pings else None)} ms lost(>2 s)={lost}")
# Per second: the NG thread's share, and what processes other than these
# used (a build elsewhere on the host shows here).
samples = []
try:
    samples = [list(map(float, r.split(";")[:9])) for r in open(os.path.join(out, "cpu.csv")).read().splitlines()[1:] if r]
except (OSError, ValueError):
    pass
# Rates in % of one CPU per interval, for the intervals inside the UAC run.
deltas = [[100.0 * (b[i] - a[i]) / hz / (b[0] - a[0]) for i in range(1, 8)]
          for a, b in zip(samples, samples[1:])
          if up0 <= a[0] and b[0] <= up0 + (t1 - t0) and b[0] > a[0] and all(b[i] >= a[i] > 0 for i in range(1, 5))]
if deltas:
    mean = lambda xs: sum(xs) / len(xs)
    others = [max(0.0, d[5] - sum(d[0:4])) for d in deltas]
    print(f"per second during the UAC run ({len(deltas)} samples, % of one CPU): host busy mean {mean([d[5] for d in deltas]):.0f} of 200, steal mean {mean([d[6] for d in deltas]):.0f}; "
          f"everything else (other processes, softirq outside these) mean {mean(others):.0f} max {max(others):.0f}; "
          f"sip-control mean {mean([d[0] for d in deltas]):.0f} max {max(d[0] for d in deltas):.0f}; {node} mean {mean([d[1] for d in deltas]):.0f} (main/NG thread {mean([d[4] for d in deltas]):.0f}); "
          f"SIPp platform {mean([d[2] for d in deltas]):.0f}, carrier {mean([d[3] for d in deltas]):.0f}")
    summary_extra = dict(host_busy_pct=round(mean([d[5] for d in deltas])), others_pct=round(mean(others)), others_max_pct=round(max(others)), steal_pct=round(mean([d[6] for d in deltas])))
else:
    summary_extra = {}
print(f"receive-buffer drops: media node NG socket {drops['ng']}, sip-control SIP socket {drops['sip']}, sip-control other sockets {drops['sc_other']}")
print(f"answer ms (carrier SIPp INVITE->200, {len(rtt)} calls): p50={fmt(pct(rtt, 50))} p99={fmt(pct(rtt, 99))} max={fmt(max(rtt) if rtt else None)}")
summary = dict(node=node, rate=rate, duration=duration, calls=calls, successful=ok, failed=failed,
               failed_reasons=reasons, platform_failed=num(uas, "FailedCall(C)"), sip_control_failures=metrics.get("sluice_sip_call_failures_total", 0),
               achieved_rate=round(rate_seen, 1), sipp_min_second_rate=round(min(second_rates, default=0), 1), peak_concurrent=peak, sip_control_cpu_s=sc_s, sip_control_us_per_call=round(per_call(sc_s)),
               node_cpu_s=node_s, node_us_per_call=round(per_call(node_s)), window_s=round(window, 1),
               uas_cpu_s=uas_s, uac_cpu_s=uac_s,
               ttfa_p50_ms=pct(ttfa, 50), ttfa_p99_ms=pct(ttfa, 99), answer_p50_ms=pct(answer, 50), answer_p99_ms=pct(answer, 99),
               sipp_answer_p50_ms=pct(rtt, 50), sipp_answer_p99_ms=pct(rtt, 99),
               ng_ping_p50_ms=pct(pings, 50), ng_ping_p99_ms=pct(pings, 99), ng_ping_lost=lost, socket_drops=drops, **summary_extra)
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)
all_ok = failed == 0 and ok == calls and calls > 0 and summary["platform_failed"] == 0 and summary["sip_control_failures"] == 0 and uac_status == 0
print("RESULT:", "all calls succeeded" if all_ok else "FAILURES (see uac_errors.log, uas_errors.log, sip-control.log in " + out + ")")
sys.exit(0 if all_ok else 1)
PY
