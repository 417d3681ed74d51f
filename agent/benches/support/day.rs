//! One simulated nursery day through the real write path, shared by the `sd_budget` and
//! `soak` benchmarks.
//!
//! The day is the demo nursery's (`simulate_day`), fed to [`Core`] the way the daemon
//! feeds it: one batch per event at the event's time (events arrive one by one on a real
//! board), and a settling batch whenever the rules' clock would lag a minute (telemetry,
//! the snapshot, the runs row). An emulated uplink acknowledges everything the core
//! committed for the platform, through its own connection with the store's pragmas
//! (`synchronous = FULL`), so the outbox does not grow and its deletes are counted too.
//!
//! Writeback is emulated: the storage files are synced every [`WRITEBACK`] of the rules'
//! time, as the kernel's flusher writes dirty pages older than 30 s on a real board. So
//! `/proc/self/io` `write_bytes` counts what a board running in real time sends to its
//! card, not what a benchmark racing through the day leaves in the page cache.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use nursery_agent::config::Config;
use nursery_agent::daemon::core::{Core, Input};
use nursery_agent::journal::DB_FILE;
use nursery_agent::outbox;
use rusqlite::Connection;

/// How often the emulated kernel flusher writes dirty pages back.
pub const WRITEBACK: Duration = Duration::seconds(30);

/// Bytes this process has caused to be sent to storage so far.
pub fn write_bytes() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Resident memory of this process, KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The demo nursery's configuration, storage in `dir`, no broker, no self-simulation.
pub fn demo_config(dir: &Path) -> Config {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/demo.toml");
    let mut cfg = nursery_agent::config::load(&demo).unwrap_or_else(|e| panic!("{e}"));
    cfg.mqtt.enabled = false;
    cfg.simulation = None;
    cfg.storage.dir = dir.to_path_buf();
    cfg
}

/// A directory for the journal on a real file system (`/proc/self/io` counts nothing for
/// tmpfs): `$NURSERY_BENCH_DIR`, else the target directory.
pub fn bench_dir(name: &str) -> tempfile::TempDir {
    let base = std::env::var_os("NURSERY_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    std::fs::create_dir_all(&base).expect("bench directory");
    tempfile::Builder::new()
        .prefix(name)
        .tempdir_in(base)
        .expect("bench directory")
}

/// What one day cost.
#[derive(Debug, Default, Clone, Copy)]
pub struct DayFigures {
    pub events: u64,
    pub batches: u64,
    pub transitions: u64,
    pub written: u64,
    pub wal_peak: u64,
    /// Of `written`: during the core's commits (checkpoints, alert syncs), the emulated
    /// uplink's acknowledgements (`synchronous = FULL`), and the emulated writeback of
    /// the database file and of the WAL.
    pub in_commits: u64,
    pub in_acks: u64,
    pub writeback_db: u64,
    pub writeback_wal: u64,
}

/// The core, the emulated uplink, and the rules' clock between days.
pub struct Driver {
    pub core: Core,
    pub cfg: Config,
    uplink: Connection,
    clock: DateTime<Utc>,
    synced: DateTime<Utc>,
    acked_seq: u64,
    /// Events of the same minute in one batch (the soak's pace) instead of one each.
    pub per_minute: bool,
    /// How often the emulated flusher runs.
    pub writeback_every: Duration,
    db: PathBuf,
    wal: PathBuf,
    /// WAL frames per page, when `SD_PAGES` asks where the bytes go.
    pub pages: Option<WalTally>,
    /// Bytes written so far by each step (see [`DayFigures`]): commits, acks, db, wal.
    split: [u64; 4],
}

/// WAL frames written, per page number: read from the WAL file after every commit, so
/// each frame is counted once (a frame is one page written to the WAL).
#[derive(Debug, Default)]
pub struct WalTally {
    salt: [u8; 8],
    offset: u64,
    pub frames: std::collections::BTreeMap<u32, u64>,
    /// Commits (a commit's last frame carries the database size).
    pub commits: u64,
}

impl WalTally {
    /// Counts the frames appended to `wal` since the last scan.
    pub fn scan(&mut self, wal: &Path) {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(wal) else {
            return;
        };
        let mut head = [0u8; 32];
        if f.read_exact(&mut head).is_err() {
            return;
        }
        let page = u32::from_be_bytes(head[8..12].try_into().unwrap()) as u64;
        if head[16..24] != self.salt {
            self.salt.copy_from_slice(&head[16..24]);
            self.offset = 32;
        }
        let mut frame = [0u8; 24];
        loop {
            if f.seek(SeekFrom::Start(self.offset)).is_err() || f.read_exact(&mut frame).is_err() {
                return;
            }
            if frame[8..16] != self.salt {
                return;
            }
            let pgno = u32::from_be_bytes(frame[0..4].try_into().unwrap());
            *self.frames.entry(pgno).or_default() += 1;
            if frame[4..8] != [0; 4] {
                self.commits += 1;
            }
            self.offset += 24 + page;
        }
    }

    /// Frames per table or index (`dbstat`'s names; pages no b-tree owns now are
    /// `other`), most first.
    pub fn by_table(&self, db: &Connection) -> Vec<(String, u64)> {
        let mut owner = std::collections::HashMap::new();
        let mut stmt = db
            .prepare("SELECT name, pageno FROM dbstat")
            .expect("dbstat");
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))
            .expect("dbstat");
        for row in rows {
            let (name, page) = row.expect("dbstat row");
            // The day tables and their indexes count as one `events` and `events_ts`.
            let name = match name.strip_suffix("_ts") {
                Some(t) if nursery_agent::journal::days::table_day(t).is_some() => {
                    "events_ts".to_owned()
                }
                _ if nursery_agent::journal::days::table_day(&name).is_some() => {
                    "events".to_owned()
                }
                _ => name,
            };
            owner.insert(page, name);
        }
        let mut out = std::collections::BTreeMap::<String, u64>::new();
        for (page, n) in &self.frames {
            let name = match owner.get(page) {
                Some(name) => name.clone(),
                None if *page == 1 => "header".to_owned(),
                None => "other (ptrmap, freelist)".to_owned(),
            };
            *out.entry(name).or_default() += n;
        }
        let mut out: Vec<_> = out.into_iter().collect();
        out.sort_by_key(|e| std::cmp::Reverse(e.1));
        out
    }

    /// Prints the tally.
    pub fn report(&self, db: &Connection) {
        let total: u64 = self.frames.values().sum();
        println!(
            "  WAL frames by table: {total} in all, {} commits",
            self.commits
        );
        for (name, n) in self.by_table(db) {
            println!("    {name:<28} {n:>8} frames");
        }
    }
}

impl Driver {
    /// Opens the core at `start` (the first day's local midnight).
    pub fn open(cfg: &Config, start: DateTime<Utc>) -> Driver {
        let core = Core::open(cfg, |_, _| start).expect("core").core;
        let db = cfg.storage.dir.join(DB_FILE);
        let uplink = Connection::open(&db).expect("uplink connection");
        uplink
            .busy_timeout(std::time::Duration::from_secs(30))
            .unwrap();
        uplink.pragma_update(None, "journal_mode", "WAL").unwrap();
        uplink.pragma_update(None, "synchronous", "FULL").unwrap();
        // As the uplink's store sets it.
        uplink
            .pragma_update(
                None,
                "wal_autocheckpoint",
                nursery_agent::journal::WAL_AUTOCHECKPOINT_PAGES,
            )
            .unwrap();
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        Driver {
            core,
            cfg: cfg.clone(),
            uplink,
            clock: start,
            synced: start,
            acked_seq: 0,
            per_minute: false,
            writeback_every: WRITEBACK,
            db,
            wal: PathBuf::from(wal),
            pages: std::env::var_os("SD_PAGES").map(|_| WalTally::default()),
            split: [0; 4],
        }
    }

    /// Feeds the simulated `date` (seed 2019) and settles up to its end.
    pub fn day(&mut self, date: NaiveDate) -> DayFigures {
        let events = nursery_agent::simulate::simulate_day(&self.cfg, 2019, date);
        let tz = self.cfg.facility.timezone;
        let (_, end) = nursery_agent::localtime::day_bounds(tz, date);
        let before = write_bytes();
        let split = self.split;
        let mut f = DayFigures::default();
        let mut held: Vec<Input> = Vec::new();
        let mut held_at = self.clock;
        for (i, event) in events.into_iter().enumerate() {
            let Some(at) = event.utc() else { continue };
            let minute = |t: DateTime<Utc>| t.timestamp() / 60;
            if !held.is_empty() && (!self.per_minute || minute(at) != minute(held_at)) {
                self.batch(std::mem::take(&mut held), held_at, None, &mut f);
            }
            self.settle_until(at, &mut f);
            held.push(Input::Simulated {
                date,
                index: i as u64 + 1,
                event,
            });
            held_at = at;
            f.events += 1;
        }
        if !held.is_empty() {
            self.batch(held, held_at, None, &mut f);
        }
        self.settle_until(end, &mut f);
        self.writeback();
        f.written = write_bytes() - before;
        f.in_commits = self.split[0] - split[0];
        f.in_acks = self.split[1] - split[1];
        f.writeback_db = self.split[2] - split[2];
        f.writeback_wal = self.split[3] - split[3];
        f
    }

    fn settle_until(&mut self, at: DateTime<Utc>, f: &mut DayFigures) {
        while self.clock + Duration::minutes(1) <= at {
            let t = self.clock + Duration::minutes(1);
            self.batch(vec![], t, Some(t), f);
        }
    }

    fn batch(
        &mut self,
        inputs: Vec<Input>,
        now: DateTime<Utc>,
        settle: Option<DateTime<Utc>>,
        f: &mut DayFigures,
    ) {
        let w = write_bytes();
        let ts = match settle {
            Some(s) => self.core.ingest_and_settle(inputs, now, s),
            None => self.core.ingest(inputs, now),
        }
        .expect("the simulated day goes through the core");
        self.split[0] += write_bytes() - w;
        f.batches += 1;
        f.transitions += ts.len() as u64;
        self.clock = self.clock.max(now);
        self.tally();
        if self.core.take_enqueued() {
            let w = write_bytes();
            self.ack();
            self.split[1] += write_bytes() - w;
            self.tally();
        }
        f.wal_peak = f
            .wal_peak
            .max(std::fs::metadata(&self.wal).map_or(0, |m| m.len()));
        if self.clock - self.synced >= self.writeback_every {
            self.writeback();
        }
    }

    /// Counts the WAL frames written so far (with `SD_PAGES`): the total after.
    pub fn tally_now(&mut self) -> u64 {
        self.tally();
        self.pages.as_ref().map_or(0, |t| t.frames.values().sum())
    }

    fn tally(&mut self) {
        if let Some(t) = &mut self.pages {
            t.scan(&self.wal);
        }
    }

    /// Sets the emulated uplink's `wal_autocheckpoint` (main's uplink kept SQLite's 1000).
    pub fn uplink_checkpoint(&self, pages: u32) {
        self.uplink
            .pragma_update(None, "wal_autocheckpoint", pages)
            .unwrap();
    }

    /// The uplink's connection to the storage (for `dbstat`).
    pub fn uplink(&self) -> &Connection {
        &self.uplink
    }

    /// The platform acknowledged everything committed for it.
    fn ack(&mut self) {
        let durable = outbox::durable_after(&self.uplink, self.acked_seq, 10_000).unwrap();
        let telemetry = outbox::telemetry_before(&self.uplink, i64::MAX, 10_000).unwrap();
        if durable.is_empty() && telemetry.is_empty() {
            return;
        }
        let seqs: Vec<u64> = durable.iter().map(|m| m.seq).collect();
        let ids: Vec<i64> = telemetry.iter().map(|t| t.id).collect();
        self.acked_seq = seqs.iter().copied().max().unwrap_or(self.acked_seq);
        let tx = rusqlite::Transaction::new_unchecked(
            &self.uplink,
            rusqlite::TransactionBehavior::Immediate,
        )
        .unwrap();
        outbox::delete_acked(&tx, &seqs, &ids).unwrap();
        tx.commit().unwrap();
    }

    /// The kernel's flusher: dirty pages of the storage files go to the card.
    pub fn writeback(&mut self) {
        for (i, p) in [&self.db, &self.wal].into_iter().enumerate() {
            let w = write_bytes();
            if let Ok(file) = std::fs::File::open(p) {
                let _ = file.sync_data();
            }
            self.split[2 + i] += write_bytes() - w;
        }
        self.synced = self.clock;
    }

    pub fn clock(&self) -> DateTime<Utc> {
        self.clock
    }
}
