//! The journal of a suite run: JSON lines, a header then one record per finished unit of work.
//!
//! Each record is written with a single `write` and flushed before the next unit starts, so a
//! run killed at any instant (even `kill -9`) leaves every finished unit on disk, at worst
//! followed by one torn line, which reopening drops.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::report::write_file;
use crate::suite::Suite;
use crate::work::Record;
use crate::{BenchError, Result};

/// Which slice of a suite's units a run evaluates: unit `i` (in the suite's fixed order)
/// belongs to shard `i % count + 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 1-based index.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// The whole suite.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Reads `k/N` with `1 <= k <= N`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            BenchError::InvalidArgument(format!(
                "cannot read shard '{text}' (write k/N with 1 <= k <= N, e.g. 2/8)"
            ))
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }

    /// Whether the unit at `position` in the suite's order is this shard's.
    pub fn owns(&self, position: usize) -> bool {
        position % self.count == self.index - 1
    }

    /// The journal file name of this shard: `journal.jsonl` for a whole run,
    /// `journal-K-of-N.jsonl` for a shard.
    pub fn journal_name(&self) -> String {
        if self.count == 1 {
            "journal.jsonl".into()
        } else {
            format!("journal-{}-of-{}.jsonl", self.index, self.count)
        }
    }
}

/// The first line of a journal: what its records belong to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Header {
    pub format: String,
    pub suite: Suite,
    pub shard: Shard,
    /// Backend and device: records of different backends are not mixed.
    pub backend: String,
}

const FORMAT: &str = "adv-bench journal 2";

impl Header {
    pub fn new(suite: &Suite, shard: Shard, backend: &str) -> Self {
        Self {
            format: FORMAT.into(),
            suite: suite.clone(),
            shard,
            backend: backend.into(),
        }
    }
}

/// A journal open for appending.
pub(crate) struct Journal {
    file: File,
    path: PathBuf,
    /// The exclusive lock on the run folder's journal, held as long as the journal is open (the
    /// operating system releases it when the process ends, kill -9 included).
    _lock: File,
}

/// Takes the exclusive lock beside the journal at `path` (`<journal>.lock`), writing this
/// process's id into it; an error naming the holder's id if another process has it.
fn lock(path: &Path) -> Result<File> {
    let lock_path = path.with_extension("lock");
    if let Some(parent) = lock_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| BenchError::io(parent, e))?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| BenchError::io(&lock_path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = std::io::Read::read_to_string(&mut file, &mut holder);
            let holder = holder.trim();
            return Err(BenchError::InvalidArgument(format!(
                "another process{} is running on {}: wait for it to finish, or use another run \
                 folder",
                if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {holder})")
                },
                path.parent().unwrap_or(path).display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(BenchError::io(&lock_path, e)),
    }
    file.set_len(0)
        .and_then(|()| file.write_all(std::process::id().to_string().as_bytes()))
        .and_then(|()| file.flush())
        .map_err(|e| BenchError::io(&lock_path, e))?;
    Ok(file)
}

impl Journal {
    /// Opens the journal at `path`: creates it with `header`, or, when it exists, checks that it
    /// was written for the same suite and shard, drops a torn last line, and returns its records.
    pub fn open(path: &Path, header: &Header) -> Result<(Self, Vec<Record>)> {
        // Before reading or truncating anything: one process per journal.
        let lock = lock(path)?;
        let records = if path.exists() {
            let (found, records, valid_len) = read(path)?;
            if found != *header {
                return Err(BenchError::InvalidArgument(format!(
                    "{} was written for another suite, shard or backend; resume with the same \
                     ones, or start a new run folder",
                    path.display()
                )));
            }
            let file = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| BenchError::io(path, e))?;
            file.set_len(valid_len)
                .map_err(|e| BenchError::io(path, e))?;
            records
        } else {
            let mut line = to_line(header)?;
            line.push('\n');
            write_file(path, &line)?;
            Vec::new()
        };
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| BenchError::io(path, e))?;
        Ok((
            Self {
                file,
                path: path.to_path_buf(),
                _lock: lock,
            },
            records,
        ))
    }

    /// Appends `record` and flushes it to the operating system.
    pub fn append(&mut self, record: &Record) -> Result<()> {
        let mut line = to_line(record)?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|e| BenchError::io(&self.path, e))
    }
}

/// The header and records of the journal at `path`, and the length of its valid part (a torn
/// last line, left by a killed run, is not part of it).
pub(crate) fn read(path: &Path) -> Result<(Header, Vec<Record>, u64)> {
    let bytes = std::fs::read(path).map_err(|e| BenchError::io(path, e))?;
    let damaged = |line: usize, why: String| {
        BenchError::InvalidArgument(format!("{} line {line} is damaged: {why}", path.display()))
    };
    let mut header = None;
    let mut records = Vec::new();
    let mut valid_len = 0;
    for (number, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        if !line.ends_with(b"\n") {
            break;
        }
        let text = std::str::from_utf8(line).map_err(|e| damaged(number + 1, e.to_string()))?;
        if number == 0 {
            let found: Header =
                serde_json::from_str(text).map_err(|e| damaged(1, e.to_string()))?;
            if found.format != FORMAT {
                return Err(damaged(1, format!("unknown format '{}'", found.format)));
            }
            header = Some(found);
        } else {
            records
                .push(serde_json::from_str(text).map_err(|e| damaged(number + 1, e.to_string()))?);
        }
        valid_len += line.len() as u64;
    }
    let header = header.ok_or_else(|| {
        BenchError::InvalidArgument(format!("{} is not a journal (no header)", path.display()))
    })?;
    Ok((header, records, valid_len))
}

fn to_line<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| BenchError::InvalidArgument(format!("cannot serialize a record: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_partition_the_units() {
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
        for bad in ["0/3", "4/3", "1", "a/b", "1/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let shards: Vec<Shard> = (1..=3).map(|k| Shard { index: k, count: 3 }).collect();
        for position in 0..20 {
            assert_eq!(shards.iter().filter(|s| s.owns(position)).count(), 1);
        }
        assert!(Shard::ALL.owns(7));
        assert_eq!(shards[1].journal_name(), "journal-2-of-3.jsonl");
    }

    fn suite() -> Suite {
        toml::from_str(
            r#"
name = "j"
[datasets.d]
source = "digits:test"
[[models]]
name = "m"
data = "d"
architecture = "mlp"
train = { data = "digits:train" }
[[threats]]
norm = "linf"
epsilons = [0.1]
[[attacks]]
name = "fgsm"
"#,
        )
        .unwrap()
    }

    fn record(batch: usize) -> Record {
        Record {
            evaluation: 0,
            unit: crate::work::Unit::Clean { batch },
            outcome: crate::work::Outcome::Clean {
                correct: vec![true, false],
                clean: adv_attacks::CleanPass {
                    predictions: vec![1, 0],
                    ranking: vec![vec![1, 0], vec![0, 1]],
                    least_likely: vec![0, 1],
                    classes: 2,
                },
                wall_time_s: 0.5,
            },
        }
    }

    #[test]
    fn journals_reopen_with_their_records_and_refuse_damage_or_other_suites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let header = Header::new(&suite(), Shard::ALL, "flex/cpu");
        let (mut journal, records) = Journal::open(&path, &header).unwrap();
        assert!(records.is_empty());
        journal.append(&record(0)).unwrap();
        journal.append(&record(1)).unwrap();
        drop(journal);
        let (_, records) = Journal::open(&path, &header).unwrap();
        assert_eq!(records, vec![record(0), record(1)]);

        let other = Header::new(&suite(), Shard::ALL, "tch/cuda:0");
        let error = Journal::open(&path, &other).err().unwrap().to_string();
        assert!(error.contains("another suite"), "{error}");

        let mut text = std::fs::read_to_string(&path).unwrap();
        text.insert_str(text.find('\n').unwrap() + 1, "{not json}\n");
        std::fs::write(&path, text).unwrap();
        let error = read(&path).err().unwrap().to_string();
        assert!(error.contains("line 2 is damaged"), "{error}");
    }
}
