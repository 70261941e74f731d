//! A real ClickHouse server (Debian's clickhouse-server) of the test's own: its config, data
//! directory and ports under a TempDir, started and stopped by the test, killed and removed
//! by Drop (found by `pgrep -f` on its config path). Users: `default` without a password,
//! and `netattr` with the password in `password_file`.
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::*;

pub const CH_PASSWORD: &str = "fleet-s3cret";

/// A ClickHouse server; Drop kills it and removes its files.
pub struct ClickHouse {
    pub dir: TempDir,
    pub http_port: u16,
    config: PathBuf,
    pub password_file: PathBuf,
    /// The running server, waited for when it stops.
    child: std::cell::RefCell<Option<std::process::Child>>,
}

impl ClickHouse {
    /// A server started and answering, or None when clickhouse-server is missing (a failure
    /// under CI).
    pub fn start() -> Option<ClickHouse> {
        if Command::new("clickhouse-server").arg("--version").output().is_err() {
            skip(
                "no clickhouse-server (apt-get install clickhouse-server)",
                "clickhouse-server missing (.ci/run installs it)",
            );
            return None;
        }
        let dir = TempDir::new();
        let (http_port, tcp_port) = (free_port(), free_port());
        let d = dir.0.display().to_string();
        let config = dir.join("config.xml");
        std::fs::write(
            &config,
            format!(
                r#"<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/server.err.log</errorlog><size>10M</size><count>1</count></logger>
    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <path>{d}/data/</path>
    <tmp_path>{d}/data/tmp/</tmp_path>
    <user_files_path>{d}/data/user_files/</user_files_path>
    <format_schema_path>{d}/data/format_schemas/</format_schema_path>
    <users_config>{d}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>104857600</mark_cache_size>
    <uncompressed_cache_size>104857600</uncompressed_cache_size>
    <mlock_executable>false</mlock_executable>
</yandex>
"#
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("users.xml"),
            format!(
                r#"<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
    <users>
        <default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
        <netattr><password>{CH_PASSWORD}</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></netattr>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"#
            ),
        )
        .unwrap();
        let password_file = dir.join("password");
        std::fs::write(&password_file, format!("{CH_PASSWORD}\n")).unwrap();
        let ch = ClickHouse { dir, http_port, config, password_file, child: Default::default() };
        ch.resume();
        Some(ch)
    }

    /// The store URL of `database` as user netattr.
    pub fn url(&self, database: &str) -> String {
        format!("clickhouse://netattr@127.0.0.1:{}/{database}", self.http_port)
    }

    /// The server's pid, if it runs.
    pub fn pid(&self) -> Option<u32> {
        let out = Command::new("pgrep").args(["-f", &self.config.display().to_string()]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().next().and_then(|l| l.trim().parse().ok())
    }

    /// Starts the server (again) and waits until it answers.
    pub fn resume(&self) {
        let child = Command::new("clickhouse-server")
            .arg(format!("--config-file={}", self.config.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("stderr.log")).unwrap())
            .spawn()
            .unwrap();
        *self.child.borrow_mut() = Some(child);
        wait_until("ClickHouse to answer", Duration::from_secs(60), || {
            http_get(self.http_port, "/ping").0 == 200
        });
    }

    /// Stops the server with `sig` and waits until it is gone.
    pub fn halt(&self, sig: libc::c_int) {
        if let Some(mut child) = self.child.borrow_mut().take() {
            signal(child.id(), sig);
            let _ = child.wait();
        }
        wait_until("ClickHouse to stop", Duration::from_secs(60), || self.pid().is_none());
    }

    /// Runs `sql` as the default user; its output.
    pub fn query(&self, sql: &str) -> String {
        let (code, text) = http_request("127.0.0.1", self.http_port, "POST", "/", sql);
        assert_eq!(code, 200, "ClickHouse: {sql}: {text}");
        text
    }
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.borrow_mut().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // One started otherwise (a test that died between its start and here): by its config.
        if let Some(pid) = self.pid() {
            signal(pid, libc::SIGKILL);
        }
    }
}
