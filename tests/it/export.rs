//! Fitting the monitoring stack: the Prometheus exposition (held by promtool), CSV and NDJSON
//! listings, the atomic textfile output, and `serve` under churn and SIGTERM.
use std::process::Command;

use crate::harness::*;

/// promtool from Debian's prometheus package; its absence fails the test when CI is set.
fn promtool() -> bool {
    let there = Command::new("promtool").arg("--version").output().is_ok_and(|o| o.status.success());
    if !there {
        skip("no promtool (apt-get install prometheus)", "promtool missing (.ci/run installs prometheus)");
    }
    there
}

fn promtool_check(text: &str) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_format_holds_the_same_counters_and_promtool_accepts_the_exposition() {
    let Some(s) = scene(1, false) else { return };
    if !promtool() {
        return;
    }
    let (na, c) = (&s.na, &s.c[0]);
    na.run(&["load", "--max-entries", "4"]).ok();
    na.run(&["attach", "--iface", &c.host_if]).ok();
    let h = s.tree.cgroup("host.slice/receiver.service");
    // Seven senders, one with a hostile name; four fit in the map, the rest overflow.
    let mut senders: Vec<Cgroup> =
        (0..6).map(|i| s.tree.cgroup(&format!("system.slice/s{i}.service"))).collect();
    senders.push(s.tree.cgroup("system.slice/evil\"quote\\back\u{1b}[31m.service"));
    for (i, cg) in senders.iter().enumerate() {
        c.send(cg, &h, 7300 + i as u16, 50_000);
    }
    // Frozen from here (a stray IPv6 packet on the veth would move them between reads).
    na.run(&["detach", "--iface", &c.host_if]).ok();
    let json = na.run(&["stats", "--format", "json"]).ok().json();
    let rows = json["cgroups"].as_array().unwrap();
    let tx_total = json["totals"]["tx_bytes"].as_u64().unwrap();
    assert!(rows.iter().any(|r| r["bucket"] == "overflow" && r["tx_bytes"].as_u64().unwrap() > 0), "{json}");

    let prom = na.run(&["stats", "--format", "prometheus"]).ok().stdout;
    promtool_check(&prom);
    let tx = samples(&prom, "netattr_tx_bytes_total");
    assert_eq!(tx.len(), rows.len(), "a series per row:\n{prom}");
    assert_eq!(tx.iter().map(|(_, v)| *v as u64).sum::<u64>(), tx_total, "{prom}");
    assert!(tx.iter().any(|(l, _)| l.contains("bucket=\"unresolved\"")), "{prom}");
    assert!(tx.iter().any(|(l, v)| l.contains("bucket=\"overflow\"") && *v > 0.0), "{prom}");
    for health in [
        "netattr_map_fill_ratio{map=\"stats_map\"}",
        "netattr_insert_failures_total",
        "netattr_ringbuf_drops_total",
    ] {
        assert!(prom.lines().any(|l| l.starts_with(health)), "no {health}:\n{prom}");
    }
    assert!(samples(&prom, "netattr_insert_failures_total")[0].1 > 0.0, "{prom}");

    // CSV: a header and a record per row, quoting done right for the hostile path.
    let csv_text = na.run(&["stats", "--format", "csv"]).ok().stdout;
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[0], "cgroup_id");
    let tx_col = header.iter().position(|h| h == "tx_bytes").unwrap();
    let records: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(records.len(), rows.len(), "{csv_text}");
    assert_eq!(records.iter().map(|x| x[tx_col].parse::<u64>().unwrap()).sum::<u64>(), tx_total);
    // NDJSON: an object per row.
    let nd = na.run(&["stats", "--format", "ndjson"]).ok().stdout;
    let objs: Vec<serde_json::Value> = nd.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(objs.len(), rows.len());
    assert!(objs.iter().all(|o| o.get("cgroup_id").is_some() && o.get("tx_bytes").is_some()));

    // The textfile collector's file is written whole, with nothing else left in the folder.
    let dir = std::env::temp_dir().join(format!("netattr-test-{}-{}", std::process::id(), uniq()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("netattr.prom");
    let out = na.run(&["stats", "--format", "prometheus", "--output", file.to_str().unwrap()]).ok();
    assert!(out.stdout.is_empty());
    let written = std::fs::read_to_string(&file).unwrap();
    promtool_check(&written);
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(names, vec![std::ffi::OsString::from("netattr.prom")]);

    // Forms a command does not have are refused in one line.
    na.run(&["status", "--format", "csv"]).fails_with("--format csv is for listings");
    na.run(&["events", "--format", "prometheus"]).fails_with("--format prometheus is for 'netattr stats'");
    na.run(&["stats", "--format", "prometheus", "--interval", "1"]).fails_with("no --interval form");
}

#[test]
fn serve_answers_while_workloads_come_and_go_retires_the_gone_and_stops_on_sigterm() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let serve = Serve::start(na, &["--retire-after", "2s"]);
    let h = s.tree.cgroup("host.slice/receiver.service");
    // A scraper beside the churn: every answer must be a 200 that promtool-style parses.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scraper = {
        let (stop, port) = (stop.clone(), serve.port);
        std::thread::spawn(move || {
            let (mut ok, mut bad) = (0, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match http_get(port, "/metrics") {
                    (200, body) if body.contains("netattr_tx_bytes_total") => ok += 1,
                    other => bad.push(other),
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            (ok, bad)
        })
    };
    let mut gone = Vec::new();
    for i in 0..8u16 {
        let c = Container::new(&s.tree);
        na.run(&["attach", "--iface", &c.host_if]).ok(); // attach beside serve
        let short = c.run_exited(&s.tree, &h, 7400 + i, 20_000 + u64::from(i));
        na.run(&["stats", "--format", "json"]).ok(); // stats beside serve
        let (code, body) = serve.get("/metrics");
        assert_eq!(code, 200);
        let id = format!("cgroup_id=\"{}\"", short.id);
        let row = samples(&body, "netattr_tx_bytes_total").into_iter().find(|(l, _)| l.contains(&id));
        let (labels, v) = row.unwrap_or_else(|| panic!("no series for {id}:\n{body}"));
        assert!(v >= (20_000 + i) as f64, "{labels} {v}");
        assert!(labels.contains("path=\"/"), "a gone workload keeps its kernel-recorded path: {labels}");
        gone.push(id);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, bad) = scraper.join().unwrap();
    assert!(bad.is_empty() && ok > 0, "{ok} good scrapes, bad: {bad:?}");
    // Retirement: a cgroup is seen gone within the resolver's cache time (10 s), and is no
    // longer exported --retire-after (2 s) later.
    let retired = || !gone.iter().any(|id| serve.get("/metrics").1.contains(id.as_str()));
    poll_until(std::time::Duration::from_secs(15), std::time::Duration::from_millis(250), retired);
    let (_, body) = serve.get("/metrics");
    for id in &gone {
        assert!(!body.contains(id.as_str()), "{id} is past --retire-after:\n{body}");
    }
    assert!(samples(&body, "netattr_retired_cgroups")[0].1 >= gone.len() as f64, "{body}");
    // Still in the maps until reap.
    let st = na.run(&["stats", "--format", "json"]).ok().json();
    assert!(st["cgroups"].as_array().unwrap().iter().filter(|r| r["gone"] == true).count() >= gone.len());
    let (code, stderr) = serve.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("serve stopped"), "{stderr}");
}

#[test]
fn serve_refuses_clearly() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["serve"]).fails_with("not loaded");
    na.run(&["load"]).ok();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    na.run(&["serve", "--listen", &addr]).fails_with(&format!("cannot listen on {addr}"));
    let serve = Serve::start(na, &[]);
    assert_eq!(serve.get("/nowhere").0, 404);
    // Pins removed under a running serve: /healthz and /metrics say so, serve keeps running.
    na.run(&["cleanup"]).ok();
    assert_eq!(serve.get("/healthz").0, 503);
    let (code, body) = serve.get("/metrics");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("not loaded"), "{body}");
    na.run(&["load"]).ok();
    assert_eq!(serve.get("/metrics").0, 200, "a new load is picked up");
    assert_eq!(serve.stop().0, 0);
}

/// A Prometheus server (Debian's package) on a free loopback port, scraping `target` every
/// second, with its storage in a folder of ours; Drop stops it and removes the folder.
struct Prometheus {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Prometheus {
    fn start(target: u16) -> Option<Prometheus> {
        if Command::new("prometheus").arg("--version").output().is_err() {
            skip("no prometheus (apt-get install prometheus)", "prometheus missing (.ci/run installs it)");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("netattr-test-{}-{}", std::process::id(), uniq()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
                 scrape_configs:\n  - job_name: netattr\n    static_configs: [{{targets: ['127.0.0.1:{target}']}}]\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("log")).unwrap())
            .spawn()
            .unwrap();
        let p = Prometheus { child, port, dir };
        let ready = || http_get(port, "/-/ready").0 == 200;
        if poll_until(std::time::Duration::from_secs(20), std::time::Duration::from_millis(100), ready) {
            return Some(p);
        }
        panic!(
            "prometheus did not get ready: {}",
            std::fs::read_to_string(p.dir.join("log")).unwrap_or_default()
        );
    }

    /// The value of an instant query's single result, if it has one.
    fn query(&self, promql: &str) -> Option<f64> {
        let q: String = promql
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"_-.".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let (code, body) = http_get(self.port, &format!("/api/v1/query?query={q}"));
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let result = v["data"]["result"].as_array()?.first()?.clone();
        result["value"][1].as_str()?.parse().ok()
    }

    /// Polls `promql` (20 s at most) until `ok` holds for its value.
    fn wait_for(&self, promql: &str, ok: impl Fn(f64) -> bool) -> f64 {
        let mut got = None;
        let wanted = || {
            got = self.query(promql).filter(|v| ok(*v));
            got.is_some()
        };
        if poll_until(std::time::Duration::from_secs(20), std::time::Duration::from_millis(100), wanted) {
            return got.unwrap_or_default();
        }
        panic!("Prometheus never had {promql} as wanted (last: {:?})", self.query(promql));
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Bytes downloaded from the container's httpd: the response body only.
fn download(ip: &str, file: &str) -> u64 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect((ip, 80)).unwrap();
    write!(s, "GET /{file} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let head = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    (all.len() - head) as u64
}

#[test]
fn prometheus_scrapes_a_named_container_within_the_truth_table_bounds() {
    if !privileged() || !docker() {
        return;
    }
    let _shared = shared();
    let na = Netattr::new();
    let web = DockerContainer::start(
        "prom-web",
        "mkdir -p /www && head -c 100000 /dev/zero > /www/small && head -c 3000000 /dev/zero > /www/big \
         && echo up && exec httpd -f -p 80 -h /www",
    );
    web.wait_for_log("up");
    let rel = format!("/{}", web.cgroup_dir().strip_prefix(cgroup2()).unwrap().display());
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &rel]).ok();
    let serve = Serve::start(&na, &[]);
    let Some(prom) = Prometheus::start(serve.port) else { return };
    let ip = web.ip();
    // A first download makes the series; Prometheus scrapes it; then the known payload.
    let small = download(&ip, "small");
    let series = format!("netattr_tx_bytes_total{{name=\"{}\"}}", web.name);
    prom.wait_for(&series, |v| v >= small as f64);
    let big = download(&ip, "big");
    let payload = (small + big) as f64;
    let st = na.run(&["stats", "--format", "json"]).ok().json();
    let row =
        st["cgroups"].as_array().unwrap().iter().find(|r| r["name"] == web.name.as_str()).cloned().unwrap();
    let packets = row["tx_packets"].as_f64().unwrap();
    // Socket source, container tx: the payload plus headers (HTTP's and each packet's).
    let upper = payload + 2.0 * 200.0 + 100.0 * packets;
    let v = prom.wait_for(&series, |v| v >= payload);
    assert!(v <= upper, "{series} = {v}, payload {payload}, at most {upper}");
    assert_eq!(v, row["tx_bytes"].as_f64().unwrap(), "Prometheus has what stats reads (no traffic since)");
    let rate = prom.wait_for(&format!("rate({series}[30s])"), |r| r > 0.0);
    assert!(rate * 30.0 <= upper * 1.5, "rate {rate} B/s cannot exceed what was sent");
    // The labels: kind, runtime and container id from the path, name from Docker.
    let labelled = format!(
        "netattr_tx_bytes_total{{name=\"{}\",kind=\"container\",runtime=\"docker\",container_id=\"{}\",source=\"socket\"}}",
        web.name, web.id
    );
    assert_eq!(prom.query(&labelled), Some(v), "{labelled}");
    assert_eq!(serve.stop().0, 0);
}

#[test]
fn serve_keeps_the_name_of_a_pod_that_is_gone() {
    // The pod's log directory (its only name source here) and its cgroup disappear after its
    // first packet: serve named it from the first-seen event; stats, reading later, cannot.
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let uid = format!("0a1b2c3d-7777-8888-9999-{:012x}", uniq());
    let hex = format!("{:064x}", (std::process::id() as u128) << 64 | uniq() as u128);
    let pod = s.tree.cgroup(&format!(
        "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-{hex}.scope",
        uid.replace('-', "_")
    ));
    let pods = std::env::temp_dir().join(format!("netattr-test-{}-{}", std::process::id(), uniq()));
    let log_dir = pods.join(format!("shop_batch-job-x1_{uid}"));
    std::fs::create_dir_all(&log_dir).unwrap();
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let serve = Serve::start(na, &["--pods-dir", pods.to_str().unwrap()]);
    let h = s.tree.cgroup("host.slice/h.service");
    c.send(&pod, &h, 7900, 100_000);
    let id = format!("cgroup_id=\"{}\"", pod.id);
    let named = |body: &str| {
        samples(body, "netattr_tx_bytes_total")
            .iter()
            .any(|(l, _)| l.contains(&id) && l.contains("pod_name=\"batch-job-x1\""))
    };
    poll_until(std::time::Duration::from_secs(5), std::time::Duration::from_millis(50), || {
        named(&serve.get("/metrics").1)
    });
    std::fs::remove_dir_all(&pods).unwrap();
    std::fs::remove_dir(&pod.path).unwrap();
    let (_, body) = serve.get("/metrics");
    assert!(named(&body), "serve lost the gone pod's name:\n{body}");
    let st = na.run(&["stats", "--format", "json", "--pods-dir", pods.to_str().unwrap()]).ok().json();
    let row = row(&st, pod.id).clone();
    assert_eq!((row["gone"].as_bool(), row["pod_name"].as_str()), (Some(true), None), "{row}");
    assert_eq!(row["pod_uid"], uid.as_str(), "the kernel's record still gives the UID");
    assert_eq!(serve.stop().0, 0);
}
