//! `netattr load`: load the BPF object once and pin every program and map under --pin-dir
//! (core::load), or keep the load already there (`--reuse`).
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::bpf::Pins;
use crate::cli::{Breakdown, Global, LoadArgs};
use crate::core::classes;
use crate::core::inventory::ProgRow;
use crate::core::load::{self, Loaded, Settings};
use crate::output::{self, Report};
use crate::{cgroup, sys};

#[derive(Debug, Serialize)]
pub struct LoadReport {
    pub schema: u32,
    pub pin_dir: PathBuf,
    /// True when an existing load was kept (`--reuse`).
    pub reused: bool,
    pub max_entries: u32,
    pub programs: Vec<ProgRow>,
}

impl Report for LoadReport {
    const ROWS: Option<&'static str> = Some("programs");

    fn render_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let verb = if self.reused { "already loaded" } else { "loaded" };
        writeln!(out, "{verb} at {} (counter map: {} cgroups)", self.pin_dir.display(), self.max_entries)?;
        let mut t = output::table(["PROGRAM", "ID"]);
        for p in &self.programs {
            output::add_row(&mut t, [p.name.clone(), p.id.to_string()]);
        }
        output::write_table(out, &t)
    }
}

pub fn execute(g: &Global, a: &LoadArgs) -> Result<ExitCode> {
    sys::require_privileges("load")?;
    cgroup::mount_point()?;
    let settings = Settings {
        max_entries: a.max_entries,
        ports: a.breakdown.contains(&Breakdown::Port),
        ifaces: a.breakdown.contains(&Breakdown::Iface),
        classes: a.breakdown.contains(&Breakdown::Class) || a.breakdown.contains(&Breakdown::Peer),
        peers: a
            .breakdown
            .contains(&Breakdown::Peer)
            .then(|| load::PeerSettings { entries: a.peer_entries, classes: a.peer_classes.clone() }),
        no_fast_path: a.no_fast_path,
    };
    if a.classes.is_some() && !settings.classes {
        bail!("--classes needs the class breakdown: add '--breakdown class'");
    }
    if !a.peer_classes.is_empty() && settings.peers.is_none() {
        bail!("--peer-classes needs the peer breakdown: add '--breakdown peer'");
    }
    // Read before anything changes: a bad file leaves the kernel as it was.
    let class_file = a.classes.as_deref().map(|f| classes::read_file(f, a.zone.as_deref())).transpose()?;
    let pins = Pins::new(&g.pin_dir);
    let (inst, reused) = match load::load(&pins, &settings, class_file.as_ref(), a.reuse, a.accept_existing)?
    {
        Loaded::New(inst) => (inst, false),
        Loaded::Kept(inst, differs) => {
            if !differs.is_empty() {
                let what = differs.join(", ");
                eprintln!("netattr: kept the instance at {} although it differs: {what}", pins.dir.display());
            }
            (inst, true)
        }
    };
    let report = LoadReport {
        schema: output::SCHEMA,
        pin_dir: pins.dir.clone(),
        reused,
        max_entries: inst.meta.max_entries,
        programs: ProgRow::of(&inst),
    };
    output::emit(g.format, &report)?;
    Ok(ExitCode::SUCCESS)
}
