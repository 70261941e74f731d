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
