# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_netattr_global_optspecs
    string join \n pin-dir= o/format= docker-socket= pods-dir= containerd-socket= containerd-namespace= crio-dir= labels= v/verbose h/help V/version
end

function __fish_netattr_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_netattr_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_netattr_using_subcommand
    set -l cmd (__fish_netattr_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c netattr -n "__fish_netattr_needs_command" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_needs_command" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_needs_command" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_needs_command" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_needs_command" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_needs_command" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_needs_command" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_needs_command" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_needs_command" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_needs_command" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "check" -d 'Check that this host can run netattr (kernel, BTF, JIT, bpffs, cgroup2, privileges)'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "load" -d 'Load the BPF object and pin its programs and maps under --pin-dir'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "attach" -d 'Attach the pinned programs to interfaces (tc: clsact ingress/egress) and/or a cgroup (socket: --cgroup)'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "detach" -d 'Remove netattr\'s filters from interfaces and/or its socket programs from a cgroup'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "stats" -d 'Print the counters per cgroup'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "status" -d 'Show what is pinned and attached, with map fill and health counters, and the recorder\'s last cycle'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "resolve" -d 'Name cgroup ids: path, kind, runtime, container id, pod UID; also for cgroups gone'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "top" -d 'A live full-screen view of who uses the network (needs a terminal)'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "events" -d 'Stream the cgroups counted for the first time, with their identity (NDJSON with --format json or ndjson)'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "cleanup" -d 'Detach from everything and remove the pins (safe to run at any time)'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "reap" -d 'Print the final counters of cgroups that no longer exist, then remove them from the maps'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "classes" -d 'Show or change the destination classes of a loaded instance (no reload, no packet lost)'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "record" -d 'Record the counters into the ledger (SQLite) every interval, billing each workload\'s traffic exactly once and collecting the workloads that are gone'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "report" -d 'Billing reports from the ledger alone (no root, no kernel): totals per group for a period, 95th percentiles, an alert mode'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "export" -d 'Ship the ledger\'s rows to the fleet store (ClickHouse) exactly once, once or following the recorder'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "serve" -d 'Export the counters to Prometheus: an HTTP server answering /metrics and /healthz'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "demo" -d 'Run three demo workloads (a web server under load, key-value chatter, a bulk sender at ~50 Mbit/s that also uploads to a pretend internet behind a NAT uplink), attach netattr to them and show who uses the network and the uplink; removes everything it made when it ends'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "demo-server" -d 'The demo\'s HTTP responder inside a namespace workload (started by \'demo\')'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c netattr -n "__fish_netattr_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c netattr -n "__fish_netattr_using_subcommand check" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand check" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand check" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand check" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand check" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand check" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand check" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand check" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand check" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand check" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand load" -l max-entries -d 'Capacity of the per-cgroup counter map (two more slots are reserved for the unresolved and overflow buckets)' -r
complete -c netattr -n "__fish_netattr_using_subcommand load" -l breakdown -d 'Also count these breakdowns (comma-separated): per (cgroup, interface) for the tc source, per (cgroup, protocol, service port) and per (cgroup, destination class) for both. Each costs map lookups per packet, so they are off unless asked for' -r -f -a "iface\t'per (cgroup, interface), tc source'
port\t'per (cgroup, protocol, service port), both sources'
class\t'per (cgroup, destination class: loopback, host, private, internet, ...), both sources'
peer\t'per (cgroup, remote address) within the peer classes, both sources (adds class)'"
complete -c netattr -n "__fish_netattr_using_subcommand load" -l peer-entries -d 'With --breakdown peer: capacity of the peer map, in (cgroup, remote address) rows (memory is taken as peers appear; a new peer that finds it full is counted in its class\'s "other peers" row)' -r
complete -c netattr -n "__fish_netattr_using_subcommand load" -l peer-classes -d 'With --breakdown peer: the classes counted per remote address (comma-separated; default: every class but internet and non-ip); the others show their class as the peer' -r
complete -c netattr -n "__fish_netattr_using_subcommand load" -l classes -d 'With --breakdown class: a classes file (TOML) that adds or overrides destination classes by CIDR; \'netattr classes set\' changes them later without a reload' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand load" -l zone -d 'This node\'s zone, where the classes file maps zones to prefixes ([zones]): its own zone\'s are class same-zone, the others\' cross-zone' -r
complete -c netattr -n "__fish_netattr_using_subcommand load" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand load" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand load" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand load" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand load" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand load" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand load" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand load" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand load" -l reuse -d 'If netattr is already loaded with these settings, keep its pinned maps and counters and exit 0; if its settings differ, say how and exit 1'
complete -c netattr -n "__fish_netattr_using_subcommand load" -l accept-existing -d 'With --reuse: keep a loaded instance even where its settings differ from these flags (the differences are said on stderr)'
complete -c netattr -n "__fish_netattr_using_subcommand load" -l no-fast-path -d 'Count every cgroup in its hash entry, without the per-cgroup slot fast path (what kernels before 5.12, which lack BPF compare-and-swap, always do). The counts are the same; each packet costs a hash lookup more'
complete -c netattr -n "__fish_netattr_using_subcommand load" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand load" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand load" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand attach" -s i -l iface -d 'tc: an interface by name (repeatable)' -r
complete -c netattr -n "__fish_netattr_using_subcommand attach" -l cgroup -d 'socket: attach the cgroup_skb programs to this cgroup, a path below the cgroup2 mount (default: the mount\'s root, i.e. every socket on the host)' -r
complete -c netattr -n "__fish_netattr_using_subcommand attach" -l direction -d 'Which hooks to attach' -r -f -a "ingress\t''
egress\t''
both\t''"
complete -c netattr -n "__fish_netattr_using_subcommand attach" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand attach" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand attach" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand attach" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand attach" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand attach" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand attach" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand attach" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand attach" -l all-veth -d 'tc: every interface of link kind veth in this network namespace'
complete -c netattr -n "__fish_netattr_using_subcommand attach" -l watch -d 'With --all-veth: keep running, attach to veths as they appear (recording their owners), forget removed ones; stop with Ctrl-C or SIGTERM'
complete -c netattr -n "__fish_netattr_using_subcommand attach" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand attach" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand attach" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand detach" -s i -l iface -d 'tc: an interface by name (repeatable)' -r
complete -c netattr -n "__fish_netattr_using_subcommand detach" -l direction -d 'Which hooks to detach' -r -f -a "ingress\t''
egress\t''
both\t''"
complete -c netattr -n "__fish_netattr_using_subcommand detach" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand detach" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand detach" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand detach" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand detach" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand detach" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand detach" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand detach" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand detach" -l all-veth -d 'tc: every interface of link kind veth in this network namespace'
complete -c netattr -n "__fish_netattr_using_subcommand detach" -l cgroup -d 'socket: detach the cgroup_skb programs from their cgroup'
complete -c netattr -n "__fish_netattr_using_subcommand detach" -l all -d 'Everything this instance attached: every interface and the cgroup'
complete -c netattr -n "__fish_netattr_using_subcommand detach" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand detach" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand detach" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand stats" -l source -d 'Which counters to read (default: socket when attached to a cgroup, else tc). Sources are never added together' -r -f -a "tc\t'clsact classifiers on interfaces (L2 bytes)'
socket\t'cgroup_skb programs on a cgroup (L3 bytes)'"
complete -c netattr -n "__fish_netattr_using_subcommand stats" -l by -d 'One row per cgroup, per (cgroup, interface) (tc only), per (cgroup, protocol, service port), per (cgroup, destination class), or per (cgroup, class, remote address)' -r -f -a "cgroup\t''
iface\t''
port\t''
class\t''
peer\t''"
complete -c netattr -n "__fish_netattr_using_subcommand stats" -l class -d 'With --by class or --by peer: only these classes (comma-separated), e.g. \'--by class --class internet --sort tx\' for who sends the most to the internet' -r
complete -c netattr -n "__fish_netattr_using_subcommand stats" -l group -d 'Sum the rows per group of these fields (comma-separated), as `report` groups the ledger: name (a pod\'s containers), pod_namespace, pod, kind, runtime, identity, class (with --by class) or label:KEY' -r
complete -c netattr -n "__fish_netattr_using_subcommand stats" -l sort -d 'Order of the rows' -r -f -a "rx\t''
tx\t''
total\t''"
complete -c netattr -n "__fish_netattr_using_subcommand stats" -l top -d 'Print only the first N rows (the unresolved and overflow buckets are always shown)' -r
complete -c netattr -n "__fish_netattr_using_subcommand stats" -l interval -d 'Print rates every SECONDS (one report per interval; NDJSON with --format ndjson)' -r
complete -c netattr -n "__fish_netattr_using_subcommand stats" -l count -d 'With --interval: stop after N reports' -r
complete -c netattr -n "__fish_netattr_using_subcommand stats" -l output -d 'Write to FILE instead of stdout, atomically (a temporary file renamed over it): for node_exporter\'s textfile collector, \'--format prometheus --output DIR/netattr.prom\'' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand stats" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand stats" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand stats" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand stats" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand stats" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand stats" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand stats" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand stats" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand stats" -l no-resolve -d 'Print cgroup ids only: no paths, identities or names (cheapest for frequent polling)'
complete -c netattr -n "__fish_netattr_using_subcommand stats" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand stats" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand stats" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand status" -l ledger -d 'The ledger whose recorder to show' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand status" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand status" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand status" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand status" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand status" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand status" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand status" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand status" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand status" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand status" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand resolve" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand resolve" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand resolve" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand resolve" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand resolve" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand resolve" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand resolve" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand resolve" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand resolve" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand resolve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand resolve" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand top" -l interval -d 'Seconds between refreshes' -r
complete -c netattr -n "__fish_netattr_using_subcommand top" -l source -d 'Which counters to show (default: socket when attached to a cgroup, else tc)' -r -f -a "tc\t'clsact classifiers on interfaces (L2 bytes)'
socket\t'cgroup_skb programs on a cgroup (L3 bytes)'"
complete -c netattr -n "__fish_netattr_using_subcommand top" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand top" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand top" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand top" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand top" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand top" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand top" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand top" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand top" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand top" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand top" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand events" -l count -d 'Exit after N events (default: run until interrupted or stdout is closed)' -r
complete -c netattr -n "__fish_netattr_using_subcommand events" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand events" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand events" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand events" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand events" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand events" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand events" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand events" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand events" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand events" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand events" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand cleanup" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand cleanup" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand cleanup" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand cleanup" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand cleanup" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand cleanup" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand cleanup" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand cleanup" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand cleanup" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand cleanup" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand cleanup" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand reap" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand reap" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand reap" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand reap" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand reap" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand reap" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand reap" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand reap" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand reap" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand reap" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand reap" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and not __fish_seen_subcommand_from show set reset help" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and not __fish_seen_subcommand_from show set reset help" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand classes; and not __fish_seen_subcommand_from show set reset help" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and not __fish_seen_subcommand_from show set reset help" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and not __fish_seen_subcommand_from show set reset help" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and not __fish_seen_subcommand_from show set reset help" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand classes; and not __fish_seen_subcommand_from show set reset help" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and not __fish_seen_subcommand_from show set reset help" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand classes; and not __fish_seen_subcommand_from show set reset help" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and not __fish_seen_subcommand_from show set reset help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and not __fish_seen_subcommand_from show set reset help" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and not __fish_seen_subcommand_from show set reset help" -f -a "show" -d 'List each class with its id and prefixes (the default)'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and not __fish_seen_subcommand_from show set reset help" -f -a "set" -d 'Replace the classes with the built-in ones plus FILE\'s (TOML: \'[classes]\' then \'name = ["CIDR", ...]\'); classes left out keep their counters'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and not __fish_seen_subcommand_from show set reset help" -f -a "reset" -d 'Back to the built-in classes alone'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and not __fish_seen_subcommand_from show set reset help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from show" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from show" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from show" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from show" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from show" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from show" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from show" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from show" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from set" -l zone -d 'This node\'s zone, where FILE maps zones to prefixes ([zones]): its own zone\'s are class same-zone, the others\' cross-zone' -r
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from set" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from set" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from set" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from set" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from set" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from set" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from set" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from set" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from set" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from set" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from reset" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from reset" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from reset" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from reset" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from reset" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from reset" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from reset" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from reset" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from reset" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from reset" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from reset" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from help" -f -a "show" -d 'List each class with its id and prefixes (the default)'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from help" -f -a "set" -d 'Replace the classes with the built-in ones plus FILE\'s (TOML: \'[classes]\' then \'name = ["CIDR", ...]\'); classes left out keep their counters'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from help" -f -a "reset" -d 'Back to the built-in classes alone'
complete -c netattr -n "__fish_netattr_using_subcommand classes; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c netattr -n "__fish_netattr_using_subcommand record" -l ledger -d 'The ledger: an SQLite database file, made if absent' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand record" -l keep-5m -d 'Days the 5-minute rows are kept (a monthly 95th percentile needs 31)' -r
complete -c netattr -n "__fish_netattr_using_subcommand record" -l keep-hours -d 'Days the hourly rows are kept' -r
complete -c netattr -n "__fish_netattr_using_subcommand record" -l keep-days -d 'Days the daily rows are kept (monthly rows are kept for ever)' -r
complete -c netattr -n "__fish_netattr_using_subcommand record" -l collect-every -d 'Seconds between looks for gone workloads to collect (each asks the kernel about the cgroups that did not move since the last read and a 64th of the others; a stop always looks, at every cgroup)' -r
complete -c netattr -n "__fish_netattr_using_subcommand record" -l bill-batch -d 'Rows billed every cycle while that is all that moved; beyond it each row\'s last read in a 5-minute bucket waits in memory (and in the kernel\'s counters) until the bucket closes, then is billed in slices over the next bucket\'s cycles, so that no cycle of a node with thousands of busy workloads writes them all (a stop bills everything)' -r
complete -c netattr -n "__fish_netattr_using_subcommand record" -l export -d 'Also export the ledger to the fleet store from this process, every --export-interval: clickhouse://[USER@]HOST[:PORT]/DATABASE (what \'netattr export --follow\' does)' -r
complete -c netattr -n "__fish_netattr_using_subcommand record" -l node -d 'This node\'s name on exported rows (default: the host name)' -r
complete -c netattr -n "__fish_netattr_using_subcommand record" -l export-zone -d 'This node\'s zone on exported rows' -r
complete -c netattr -n "__fish_netattr_using_subcommand record" -l export-interval -d 'Seconds between exports' -r
complete -c netattr -n "__fish_netattr_using_subcommand record" -l export-password-file -d 'A file holding the store user\'s password (else NETATTR_CLICKHOUSE_PASSWORD)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand record" -l interval -d 'Seconds between cycles' -r
complete -c netattr -n "__fish_netattr_using_subcommand record" -l count -d 'Stop after N cycles' -r
complete -c netattr -n "__fish_netattr_using_subcommand record" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand record" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand record" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand record" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand record" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand record" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand record" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand record" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand record" -l rebind -d 'Record an instance that another ledger path records into this ledger from now on (after moving the ledger file: one instance has one ledger)'
complete -c netattr -n "__fish_netattr_using_subcommand record" -l once -d 'One cycle, then exit (for cron or a systemd timer)'
complete -c netattr -n "__fish_netattr_using_subcommand record" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand record" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand record" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand report" -l ledger -d 'The ledger to read (a copy of it works: no root, no kernel needed)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand report" -l from -d 'Report over the fleet store instead: every node\'s exported rows, clickhouse://[USER@]HOST[:PORT]/DATABASE (clickhouses:// for HTTPS)' -r
complete -c netattr -n "__fish_netattr_using_subcommand report" -l password-file -d 'A file holding the store user\'s password (else NETATTR_CLICKHOUSE_PASSWORD; neither: no password). Never on the command line' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand report" -l timeout -d 'Seconds a request to the store may take before it is given up (and retried)' -r
complete -c netattr -n "__fish_netattr_using_subcommand report" -l prices -d 'Price the bytes: a prices file (per GiB, per class and direction, a currency, validity periods, overrides per label value); the report becomes a bill with unit price and cost per line (--format focus writes FOCUS rows): docs/fleet.md' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand report" -l period -d 'today, yesterday, this-month (the default) or last-month (months start on --billing-day)' -r -f -a "today\t''
yesterday\t''
this-month\t''
last-month\t''"
complete -c netattr -n "__fish_netattr_using_subcommand report" -l since -d 'Start of the period: YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] with Z or an offset such as +01:00 (UTC when neither), or unix seconds' -r
complete -c netattr -n "__fish_netattr_using_subcommand report" -l until -d 'End of the period (exclusive), same forms; default: now' -r
complete -c netattr -n "__fish_netattr_using_subcommand report" -l billing-day -d 'The day billing months start on (1 to 28: a day every month has)' -r
complete -c netattr -n "__fish_netattr_using_subcommand report" -l by -d 'Group by these (comma-separated): name, pod_namespace, pod, kind, runtime, identity, class, label:KEY; with --from, node and zone too' -r
complete -c netattr -n "__fish_netattr_using_subcommand report" -l source -d 'Which source (default: socket where the ledger has it, else tc); never both added' -r -f -a "tc\t'clsact classifiers on interfaces (L2 bytes)'
socket\t'cgroup_skb programs on a cgroup (L3 bytes)'"
complete -c netattr -n "__fish_netattr_using_subcommand report" -l class -d 'Only traffic to these destination classes (comma-separated; the ledger has them where the recorder\'s load counted classes: \'load --breakdown class\')' -r
complete -c netattr -n "__fish_netattr_using_subcommand report" -l reallocate -d 'Shared workloads, by name or by label (KEY=VALUE: every workload whose labels hold it; comma-separated; an ingress proxy, say): their traffic with peers other than workloads (the internet, addresses, the host) is split across the workloads they served, in proportion to the bytes each exchanged with them (the pair table of \'load --breakdown peer\'; groups say allocated_from)' -r
complete -c netattr -n "__fish_netattr_using_subcommand report" -l limit -d 'Alert mode: list only the groups over this many bytes (rx + tx, e.g. 500GiB) and exit 3 if there are any (1 is an error)' -r
complete -c netattr -n "__fish_netattr_using_subcommand report" -l wait -d 'Wait up to SECONDS for the ledger to hold everything its recorder read up to the period\'s end (or now): reads wait for their 5-minute bucket to close on a busy node' -r
complete -c netattr -n "__fish_netattr_using_subcommand report" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand report" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand report" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand report" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand report" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand report" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand report" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand report" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand report" -l p95 -d 'Also the 95th percentile of each group\'s 5-minute rates (the transit-billing figure; it reads every 5-minute row of the period)'
complete -c netattr -n "__fish_netattr_using_subcommand report" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand report" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand report" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand export" -l to -d 'The fleet store: clickhouse://[USER@]HOST[:PORT]/DATABASE (clickhouses:// for HTTPS)' -r
complete -c netattr -n "__fish_netattr_using_subcommand export" -l ledger -d 'The ledger to export (read, and its export cursor moved)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand export" -l node -d 'This node\'s name on every row (default: the host name); a ledger keeps its name in a store' -r
complete -c netattr -n "__fish_netattr_using_subcommand export" -l zone -d 'This node\'s zone on every row' -r
complete -c netattr -n "__fish_netattr_using_subcommand export" -l interval -d 'Seconds between exports with --follow' -r
complete -c netattr -n "__fish_netattr_using_subcommand export" -l batch -d 'Rows a batch holds at most' -r
complete -c netattr -n "__fish_netattr_using_subcommand export" -l password-file -d 'A file holding the store user\'s password (else NETATTR_CLICKHOUSE_PASSWORD; neither: no password). Never on the command line' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand export" -l timeout -d 'Seconds a request to the store may take before it is given up (and retried)' -r
complete -c netattr -n "__fish_netattr_using_subcommand export" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand export" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand export" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand export" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand export" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand export" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand export" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand export" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand export" -l init -d 'Make the database and netattr\'s tables where missing, then export'
complete -c netattr -n "__fish_netattr_using_subcommand export" -l follow -d 'Keep exporting what the recorder bills, every --interval, until SIGTERM; failures are retried with backoff, the backlog kept in the ledger'
complete -c netattr -n "__fish_netattr_using_subcommand export" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand export" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l listen -d 'Address to listen on; loopback unless told otherwise (0.0.0.0:9477 for a scrape from another host)' -r
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l source -d 'Which counters to export (default: socket when attached to a cgroup, else tc)' -r -f -a "tc\t'clsact classifiers on interfaces (L2 bytes)'
socket\t'cgroup_skb programs on a cgroup (L3 bytes)'"
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l retire-after -d 'Stop exporting a cgroup once it has been gone this long (e.g. 30s, 5m, 1h); its counters stay in the maps until \'netattr reap\'' -r
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l record-interval -d 'With --record: seconds between recording cycles' -r
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l ledger -d 'The ledger: an SQLite database file, made if absent' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l keep-5m -d 'Days the 5-minute rows are kept (a monthly 95th percentile needs 31)' -r
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l keep-hours -d 'Days the hourly rows are kept' -r
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l keep-days -d 'Days the daily rows are kept (monthly rows are kept for ever)' -r
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l collect-every -d 'Seconds between looks for gone workloads to collect (each asks the kernel about the cgroups that did not move since the last read and a 64th of the others; a stop always looks, at every cgroup)' -r
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l bill-batch -d 'Rows billed every cycle while that is all that moved; beyond it each row\'s last read in a 5-minute bucket waits in memory (and in the kernel\'s counters) until the bucket closes, then is billed in slices over the next bucket\'s cycles, so that no cycle of a node with thousands of busy workloads writes them all (a stop bills everything)' -r
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l export -d 'Also export the ledger to the fleet store from this process, every --export-interval: clickhouse://[USER@]HOST[:PORT]/DATABASE (what \'netattr export --follow\' does)' -r
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l node -d 'This node\'s name on exported rows (default: the host name)' -r
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l export-zone -d 'This node\'s zone on exported rows' -r
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l export-interval -d 'Seconds between exports' -r
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l export-password-file -d 'A file holding the store user\'s password (else NETATTR_CLICKHOUSE_PASSWORD)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand serve" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l record -d 'Also record the counters into the ledger (what \'netattr record\' does), in this process'
complete -c netattr -n "__fish_netattr_using_subcommand serve" -l rebind -d 'Record an instance that another ledger path records into this ledger from now on (after moving the ledger file: one instance has one ledger)'
complete -c netattr -n "__fish_netattr_using_subcommand serve" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand serve" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand demo" -l duration -d 'End after SECONDS (default: run until q, Ctrl-C or SIGTERM)' -r
complete -c netattr -n "__fish_netattr_using_subcommand demo" -l runtime -d 'How to run the workloads' -r -f -a "auto\t'Docker when the engine answers and has the image, else namespaces'
docker\t'Docker containers from netattr-busybox:latest (scripts/docker-image.sh builds it)'
netns\t'Network namespaces with their own cgroups (needs only iproute2)'"
complete -c netattr -n "__fish_netattr_using_subcommand demo" -l prefix -d 'Names of what the demo creates (containers, namespaces, cgroups, pin directory unless --pin-dir is given): 1 to 12 characters of a-z, 0-9 and \'-\'' -r
complete -c netattr -n "__fish_netattr_using_subcommand demo" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand demo" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand demo" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand demo" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand demo" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand demo" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand demo" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand demo" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand demo" -l keep -d 'Leave the workloads and netattr loaded and attached when the demo ends (traffic stops); \'netattr demo --clean\' removes them'
complete -c netattr -n "__fish_netattr_using_subcommand demo" -l clean -d 'Remove what an earlier demo with this prefix left (after --keep or a kill), and exit'
complete -c netattr -n "__fish_netattr_using_subcommand demo" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand demo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand demo" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand demo-server" -l object -d 'Bytes to answer each request with' -r
complete -c netattr -n "__fish_netattr_using_subcommand demo-server" -l sink -d 'Be the demo\'s internet instead: read and discard what arrives on this port' -r
complete -c netattr -n "__fish_netattr_using_subcommand demo-server" -l upload -d 'Also upload to ADDR:PORT (the demo\'s internet)' -r
complete -c netattr -n "__fish_netattr_using_subcommand demo-server" -l upload-rate -d 'Bytes per second to upload' -r
complete -c netattr -n "__fish_netattr_using_subcommand demo-server" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand demo-server" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand demo-server" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand demo-server" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand demo-server" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand demo-server" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand demo-server" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand demo-server" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand demo-server" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand demo-server" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand demo-server" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand completions" -l pin-dir -d 'Directory in bpffs where this netattr instance pins its programs and maps' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand completions" -s o -l format -d 'Output format for data on stdout' -r -f -a "table\t'Aligned columns with human units, for people'
json\t'One JSON document (schemas in docs/json.md), counters as numbers'
ndjson\t'One JSON object per line: per row for listings, per record for streams, per report for `stats --interval`'
csv\t'Comma-separated values with a header line: the rows of a listing, nested values as JSON text (report: a column a grouping field)'
prometheus\t'The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)'
focus\t'FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)'
cloudevents\t'One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)'"
complete -c netattr -n "__fish_netattr_using_subcommand completions" -l docker-socket -d 'The Docker Engine API socket, for container names and labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand completions" -l pods-dir -d 'The kubelet\'s pod log directory (<namespace>_<name>_<uid> entries), for pod names' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand completions" -l containerd-socket -d 'containerd\'s API socket, for pod labels (the CRI writes them on each pod\'s sandbox)' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand completions" -l containerd-namespace -d 'containerd\'s namespace of the kubelet\'s pods' -r
complete -c netattr -n "__fish_netattr_using_subcommand completions" -l crio-dir -d 'CRI-O\'s container state directory (<id>/userdata/config.json), for pod labels' -r -F
complete -c netattr -n "__fish_netattr_using_subcommand completions" -l labels -d 'Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the listed ones on its series as label_<key>' -r
complete -c netattr -n "__fish_netattr_using_subcommand completions" -s v -l verbose -d 'Print libbpf\'s own diagnostics on stderr'
complete -c netattr -n "__fish_netattr_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c netattr -n "__fish_netattr_using_subcommand completions" -s V -l version -d 'Print version'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "check" -d 'Check that this host can run netattr (kernel, BTF, JIT, bpffs, cgroup2, privileges)'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "load" -d 'Load the BPF object and pin its programs and maps under --pin-dir'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "attach" -d 'Attach the pinned programs to interfaces (tc: clsact ingress/egress) and/or a cgroup (socket: --cgroup)'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "detach" -d 'Remove netattr\'s filters from interfaces and/or its socket programs from a cgroup'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "stats" -d 'Print the counters per cgroup'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "status" -d 'Show what is pinned and attached, with map fill and health counters, and the recorder\'s last cycle'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "resolve" -d 'Name cgroup ids: path, kind, runtime, container id, pod UID; also for cgroups gone'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "top" -d 'A live full-screen view of who uses the network (needs a terminal)'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "events" -d 'Stream the cgroups counted for the first time, with their identity (NDJSON with --format json or ndjson)'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "cleanup" -d 'Detach from everything and remove the pins (safe to run at any time)'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "reap" -d 'Print the final counters of cgroups that no longer exist, then remove them from the maps'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "classes" -d 'Show or change the destination classes of a loaded instance (no reload, no packet lost)'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "record" -d 'Record the counters into the ledger (SQLite) every interval, billing each workload\'s traffic exactly once and collecting the workloads that are gone'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "report" -d 'Billing reports from the ledger alone (no root, no kernel): totals per group for a period, 95th percentiles, an alert mode'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "export" -d 'Ship the ledger\'s rows to the fleet store (ClickHouse) exactly once, once or following the recorder'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "serve" -d 'Export the counters to Prometheus: an HTTP server answering /metrics and /healthz'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "demo" -d 'Run three demo workloads (a web server under load, key-value chatter, a bulk sender at ~50 Mbit/s that also uploads to a pretend internet behind a NAT uplink), attach netattr to them and show who uses the network and the uplink; removes everything it made when it ends'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "demo-server" -d 'The demo\'s HTTP responder inside a namespace workload (started by \'demo\')'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c netattr -n "__fish_netattr_using_subcommand help; and not __fish_seen_subcommand_from check load attach detach stats status resolve top events cleanup reap classes record report export serve demo demo-server completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c netattr -n "__fish_netattr_using_subcommand help; and __fish_seen_subcommand_from classes" -f -a "show" -d 'List each class with its id and prefixes (the default)'
complete -c netattr -n "__fish_netattr_using_subcommand help; and __fish_seen_subcommand_from classes" -f -a "set" -d 'Replace the classes with the built-in ones plus FILE\'s (TOML: \'[classes]\' then \'name = ["CIDR", ...]\'); classes left out keep their counters'
complete -c netattr -n "__fish_netattr_using_subcommand help; and __fish_seen_subcommand_from classes" -f -a "reset" -d 'Back to the built-in classes alone'
