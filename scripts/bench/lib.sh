# Shared by the benchmark scripts: two network namespaces TAG-1 and TAG-2 joined by veths
# (host ends TAG-h1, TAG-h2) on a host bridge TAG-br, addressed NET.2 and NET.3/24; and median.
pair_up() { # TAG NET
  ip link add "$1-br" type bridge; ip link set "$1-br" up
  for i in 1 2; do
    ip netns add "$1-$i"
    ip link add "$1-h$i" type veth peer name eth0 netns "$1-$i"
    ip link set "$1-h$i" master "$1-br"; ip link set "$1-h$i" up
    ip -n "$1-$i" addr add "$2.$((i + 1))/24" dev eth0; ip -n "$1-$i" link set eth0 up
  done
}

pair_down() { # TAG
  ip netns del "$1-1" 2>/dev/null || true; ip netns del "$1-2" 2>/dev/null || true
  ip link del "$1-br" 2>/dev/null || true
}

median() { # the median of the numbers on stdin, one a line
  sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'
}

ch_up() { # WORK HTTP_PORT TCP_PORT: a ClickHouse server of the script's own (config, data and
  # logs under WORK, the config's path is how a cleanup finds it: pkill -f WORK/config.xml),
  # answering on HTTP_PORT when this returns
  cat > "$1/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>$1/server.log</log><errorlog>$1/server.err.log</errorlog><size>10M</size><count>1</count></logger>
    <http_port>$2</http_port><tcp_port>$3</tcp_port><listen_host>127.0.0.1</listen_host>
    <path>$1/data/</path><tmp_path>$1/data/tmp/</tmp_path><user_files_path>$1/data/user_files/</user_files_path>
    <format_schema_path>$1/data/format_schemas/</format_schema_path>
    <users_config>$1/users.xml</users_config><default_profile>default</default_profile><default_database>default</default_database>
    <timezone>UTC</timezone><mark_cache_size>104857600</mark_cache_size><uncompressed_cache_size>104857600</uncompressed_cache_size>
    <mlock_executable>false</mlock_executable>
</yandex>
XML
  cat > "$1/users.xml" <<XML
<?xml version="1.0"?>
<yandex><profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
<users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
<quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas></yandex>
XML
  clickhouse-server --config-file="$1/config.xml" >/dev/null 2>&1 &
  for _ in $(seq 300); do curl -sf "127.0.0.1:$2/ping" >/dev/null && break; sleep 0.1; done
}

ch_bench_store() { # WORK: a ClickHouse server of the script's own (ch_up, under WORK) holding
  # netattr's tables in database `bench` (`export --init`, with $N); sets `port` and `url` and
  # defines q SQL (its answer; ClickHouse's error on stderr, and a failure)
  local tport
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  tport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  ch_up "$1" "$port" "$tport"
  q() {
    local out; out=$(curl -s "127.0.0.1:$port/" --data-binary "$1")
    case "$out" in *"DB::Exception"*) echo "$out" >&2; return 1 ;; esac
    printf '%s\n' "$out"
  }
  url="clickhouse://127.0.0.1:$port/bench"
  target/release/examples/bench_roll init "$1/l.db"
  $N export --init --to "$url" --ledger "$1/l.db" --node init 2>/dev/null
}
