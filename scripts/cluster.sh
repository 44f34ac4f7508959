#!/usr/bin/env bash
# A Spark standalone cluster on 127.0.0.1 from the PySpark install: one master, two workers.
#
#   scripts/cluster.sh start|stop|status
#
# pip's pyspark ships bin/spark-class but not sbin/start-master.sh, so the daemons are started
# with spark-class directly, each in its own process group (stop ends a worker's executors too).
# Settings (environment):
#   DATAFLIX_CLUSTER_DIR   pids, logs, worker and scratch dirs (default: <repo>/.cluster)
#   SPARK_MASTER_PORT      master port (default 7077): the master URL is spark://127.0.0.1:PORT
#   SPARK_MASTER_WEBUI_PORT  master web UI and JSON status at http://127.0.0.1:PORT/json/ (default 8080);
#                          worker N's UI is on PORT+N
#   DATAFLIX_WORKERS, SPARK_WORKER_CORES, SPARK_WORKER_MEMORY   default 2 workers × 1 core × 1536m
#   SPARK_HOME             the Spark install (default: the pyspark package of the repo's .venv)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
dir="${DATAFLIX_CLUSTER_DIR:-$repo/.cluster}"
port="${SPARK_MASTER_PORT:-7077}"
ui_port="${SPARK_MASTER_WEBUI_PORT:-8080}"
workers="${DATAFLIX_WORKERS:-2}"
cores="${SPARK_WORKER_CORES:-1}"
memory="${SPARK_WORKER_MEMORY:-1536m}"
master_url="spark://127.0.0.1:$port"

# SPARK_HOME of the install: pip's spark-class finds it with whatever `python3` is on PATH, which
# need not be the venv's, so it is resolved here with the venv's own python.
spark_home() {
  if [[ -n "${SPARK_HOME:-}" ]]; then echo "$SPARK_HOME"; return; fi
  local python="$repo/.venv/bin/python"
  [[ -x "$python" ]] || python="$(command -v python3)"
  "$python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))' 2>/dev/null && return
  echo "cluster.sh: pyspark not found (pip install -e '.[dev]', or set SPARK_HOME)" >&2
  exit 2
}

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

daemons() { echo master; for ((n = 1; n <= workers; n++)); do echo "worker-$n"; done; }

# Starts a daemon in its own session (its pid is its process group) with stdout+stderr in logs/.
launch() {
  local name="$1"; shift
  setsid "$SPARK_HOME/bin/spark-class" "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/$name.pid"
}

# Waits up to $3 seconds for $2 to appear in the log of daemon $1.
wait_for_log() {
  local name="$1" text="$2" deadline=$((SECONDS + $3))
  until grep -q "$text" "$dir/logs/$name.log" 2>/dev/null; do
    if ! alive "$dir/pids/$name.pid"; then
      echo "cluster.sh: $name exited; last lines of $dir/logs/$name.log:" >&2
      tail -n 20 "$dir/logs/$name.log" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "cluster.sh: $name did not log '$text' within $3 s (see $dir/logs/$name.log)" >&2
      return 1
    fi
    sleep 0.5
  done
}

start() {
  for name in $(daemons); do
    if alive "$dir/pids/$name.pid"; then
      echo "cluster.sh: already running ($name pid $(cat "$dir/pids/$name.pid")); stop it first" >&2
      exit 1
    fi
  done
  SPARK_HOME="$(spark_home)"
  export SPARK_HOME
  mkdir -p "$dir/pids" "$dir/logs" "$dir/local"
  # Every daemon and executor binds to loopback; small daemon heaps (the executors get their own).
  export SPARK_LOCAL_IP=127.0.0.1 SPARK_LOCAL_DIRS="$dir/local" SPARK_DAEMON_MEMORY="${SPARK_DAEMON_MEMORY:-512m}"
  export SPARK_NO_DAEMONIZE=1
  launch master org.apache.spark.deploy.master.Master --host 127.0.0.1 --port "$port" --webui-port "$ui_port"
  if ! wait_for_log master "I have been elected leader" 120; then stop; exit 1; fi
  for ((n = 1; n <= workers; n++)); do
    mkdir -p "$dir/worker-$n"
    launch "worker-$n" org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --cores "$cores" \
      --memory "$memory" --work-dir "$dir/worker-$n" --webui-port $((ui_port + n)) "$master_url"
  done
  for ((n = 1; n <= workers; n++)); do
    if ! wait_for_log "worker-$n" "Successfully registered with master" 120; then stop; exit 1; fi
  done
  echo "master $master_url (UI http://127.0.0.1:$ui_port), $workers workers × $cores core × $memory, dir $dir"
}

# Ends the daemons named in "$@" together: TERM to each process group, up to 10 s, then KILL.
end_daemons() {
  local name pid pids=() names=()
  for name in "$@"; do
    [[ -f "$dir/pids/$name.pid" ]] || continue
    pid="$(cat "$dir/pids/$name.pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid") names+=("$name")
    fi
    rm -f "$dir/pids/$name.pid"
  done
  for _ in $(seq 40); do
    local alive_any=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive_any=1; done
    ((alive_any)) || break
    sleep 0.25
  done
  for n in "${!pids[@]}"; do
    kill -KILL -- "-${pids[$n]}" 2>/dev/null || true
    echo "stopped ${names[$n]} (pid ${pids[$n]})"
  done
}

stop() {
  # The workers first (they end their executors), all at once; then the master.
  end_daemons $(daemons | grep -v '^master$')
  end_daemons master
}

status() {
  local name down=0
  for name in $(daemons); do
    if alive "$dir/pids/$name.pid"; then echo "$name: running (pid $(cat "$dir/pids/$name.pid"))"
    else echo "$name: stopped"; down=1
    fi
  done
  echo "master $master_url, UI http://127.0.0.1:$ui_port, logs $dir/logs"
  return "$down"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
