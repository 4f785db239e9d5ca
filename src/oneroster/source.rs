//! Where a OneRoster set's files come from: a folder, or a zip read in place (never extracted to
//! disk). Each file is handed out as a stream, so a national set is never held as text.
//!
//! Zip safety: every entry name is checked before anything is read; an absolute path or one that
//! climbs out with `..` is a problem naming the entry, and the set is refused. Only entries at the
//! zip's root are read, by exact name.

use super::problem::Problems;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

/// What `import PATH` was given, told apart by content (CONTRACT §5), not by the file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A UMP JSON snapshot.
    Json,
    /// A OneRoster 1.1 CSV set in a folder.
    OneRosterFolder,
    /// A OneRoster 1.1 CSV set in a zip.
    OneRosterZip,
}

impl Format {
    /// How summaries and audit entries name the format.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::OneRosterFolder | Format::OneRosterZip => "oneroster",
        }
    }
}

/// A folder is a OneRoster set; a file starting with a zip signature is a zipped one; anything
/// else is read as JSON.
pub fn detect(path: &Path) -> io::Result<Format> {
    if std::fs::metadata(path)?.is_dir() {
        return Ok(Format::OneRosterFolder);
    }
    let mut head = [0u8; 4];
    let mut file = File::open(path)?;
    let mut read = 0;
    while read < head.len() {
        match file.read(&mut head[read..])? {
            0 => break,
            n => read += n,
        }
    }
    // APPNOTE.TXT 4.3.7 (local file header) and 4.3.16 (end of central directory: an empty zip).
    Ok(match &head[..read] {
        [b'P', b'K', 3, 4] | [b'P', b'K', 5, 6] => Format::OneRosterZip,
        _ => Format::Json,
    })
}

/// An open set.
pub(super) enum SetSource {
    Folder(PathBuf),
    Zip(Box<zip::ZipArchive<BufReader<File>>>),
}

impl SetSource {
    pub(super) fn open(path: &Path, format: Format) -> io::Result<SetSource> {
        match format {
            Format::OneRosterZip => {
                let file = BufReader::new(File::open(path)?);
                let archive = zip::ZipArchive::new(file).map_err(io::Error::other)?;
                Ok(SetSource::Zip(Box::new(archive)))
            }
            _ => Ok(SetSource::Folder(path.to_path_buf())),
        }
    }

    /// Reports every unsafe entry name of a zip, and a `manifest.csv` that sits in a folder of
    /// the zip rather than at its root. True when the set may be read.
    pub(super) fn check_entries(&self, problems: &mut Problems) -> bool {
        let SetSource::Zip(archive) = self else {
            return true;
        };
        let names: Vec<String> = archive
            .file_names_raw()
            .map(|raw| String::from_utf8_lossy(raw).into_owned())
            .collect();
        let mut safe = true;
        for name in &names {
            if let Some(why) = unsafe_path(name) {
                problems.report(
                    "",
                    None,
                    name,
                    format!("unsafe path in the zip: {why}; nothing was read"),
                );
                safe = false;
            }
        }
        if safe && !self.has("manifest.csv") {
            let nested = names
                .iter()
                .find(|n| n.rsplit(['/', '\\']).next() == Some("manifest.csv"));
            let message = match nested {
                Some(n) => format!(
                    "the zip has no manifest.csv at its root (found `{n}`: OneRoster puts the files at the root, not in a folder)"
                ),
                None => "the zip has no manifest.csv: it is not a OneRoster set".to_string(),
            };
            problems.report("manifest.csv", None, "-", message);
            return false;
        }
        safe
    }

    pub(super) fn has(&self, name: &str) -> bool {
        match self {
            SetSource::Folder(dir) => dir.join(name).is_file(),
            SetSource::Zip(archive) => archive.index_for_name(name).is_some(),
        }
    }

    /// Runs `read` on the entry's bytes as a stream; None when the set has no such entry.
    pub(super) fn with_entry<T>(
        &mut self,
        name: &str,
        read: impl FnOnce(&mut dyn Read) -> T,
    ) -> io::Result<Option<T>> {
        match self {
            SetSource::Folder(dir) => {
                let path = dir.join(name);
                if !path.is_file() {
                    return Ok(None);
                }
                let mut file = BufReader::new(File::open(path)?);
                Ok(Some(read(&mut file)))
            }
            SetSource::Zip(archive) => match archive.by_name(name) {
                Ok(entry) => {
                    let mut bounded = Bounded::new(entry.compressed_size(), entry);
                    Ok(Some(read(&mut bounded)))
                }
                Err(zip::result::ZipError::FileNotFound) => Ok(None),
                Err(e) => Err(io::Error::other(e)),
            },
        }
    }
}

/// A zip entry may expand to this many times its compressed size. CSV compresses about 5–10 to 1;
/// a zip bomb (a gigabyte of one repeated byte in a megabyte) about 1,000 to 1.
const MAX_EXPANSION: u64 = 100;
/// Below this many bytes an entry is never judged by its expansion.
const EXPANSION_FLOOR: u64 = 64 << 20;

/// An entry's bytes, refused with an I/O error (reported as a problem of that file, nothing
/// stored) once they pass `MAX_EXPANSION` times what the archive holds of them.
struct Bounded<R> {
    inner: R,
    read: u64,
    limit: u64,
}

impl<R> Bounded<R> {
    fn new(compressed: u64, inner: R) -> Bounded<R> {
        Bounded {
            inner,
            read: 0,
            limit: compressed
                .saturating_mul(MAX_EXPANSION)
                .max(EXPANSION_FLOOR),
        }
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the zip entry expands past {} MiB, more than {MAX_EXPANSION} times its compressed size: refused as a zip bomb",
                    self.limit >> 20
                ),
            ));
        }
        Ok(n)
    }
}

/// Why a zip entry's name is unsafe to honour, if it is: absolute (`/x`, `\x`, `C:x`) or climbing
/// out of the archive (a `..` component).
fn unsafe_path(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if name.starts_with(['/', '\\']) || (bytes.len() >= 2 && bytes[1] == b':') {
        return Some("the path is absolute");
    }
    if name.split(['/', '\\']).any(|part| part == "..") {
        return Some("the path climbs out of the archive with `..`");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_that_expands_too_far_is_refused() {
        // 100 bytes held, 64 MiB allowed (the floor): a 70 MiB stream of one byte stops at 64.
        let mut bomb = Bounded::new(100, io::repeat(b'\n').take(70 << 20));
        let err = io::copy(&mut bomb, &mut io::sink()).expect_err("refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("zip bomb"), "{err}");
        assert!(
            bomb.read <= (64 << 20) + (64 << 10),
            "stopped at the limit: {}",
            bomb.read
        );
        // Ten times smaller than its limit (1 MiB held, 100 MiB allowed): read whole.
        let mut fine = Bounded::new(1 << 20, io::repeat(b'x').take(80 << 20));
        assert_eq!(
            io::copy(&mut fine, &mut io::sink()).expect("read"),
            80 << 20
        );
    }

    #[test]
    fn unsafe_names() {
        for (name, why) in [
            ("/etc/passwd", Some("absolute")),
            ("\\x.csv", Some("absolute")),
            ("C:x.csv", Some("absolute")),
            ("../x.csv", Some("`..`")),
            ("a/../../x.csv", Some("`..`")),
            ("a\\..\\x.csv", Some("`..`")),
            ("classes.csv", None),
            ("a/b..c.csv", None),
        ] {
            let found = unsafe_path(name);
            match why {
                None => assert_eq!(found, None, "{name}"),
                Some(w) => assert!(found.is_some_and(|f| f.contains(w)), "{name}: {found:?}"),
            }
        }
    }
}
