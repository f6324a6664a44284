//! Reading the local files the daemon is pointed at (crontab, config) with a size cap, so that
//! a path naming `/dev/zero`, a FIFO fed forever or a log file by mistake fails with a message
//! instead of reading until memory runs out.

use std::io::Read;
use std::path::Path;

/// The largest crontab or config file read (16 MiB: far above any real one).
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// The file's bytes, or an error when it cannot be read or holds more than `max` bytes.
pub fn read_capped(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "more than {} MiB: is this the right file (not a device or a pipe)?",
                max >> 20
            ),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_zero_stops_at_the_cap() {
        let e = read_capped(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(e.to_string().contains("more than 1 MiB"), "{e}");
    }
}
