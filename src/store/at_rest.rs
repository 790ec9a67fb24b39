//! Whether the station's data folder lies on an encrypted disk (issue 22,
//! item 1): the mount holding the folder (`/proc/self/mountinfo`), its block
//! device, and the device mapper's layers under it in `/sys` (a dm-crypt
//! target's uuid starts `CRYPT-`: LUKS1, LUKS2, PLAIN, BITLK…), through LVM
//! and RAID layers (`slaves/`). Read only; no privileges needed.
//!
//! Written here rather than with a crate: no maintained crate answers "is
//! this path on dm-crypt" without root (libcryptsetup needs it, and lsblk's
//! JSON would be another process per question); sysfs is the kernel's
//! stable, documented answer.

pub use crate::batch::at_rest::AtRest;
use std::path::{Path, PathBuf};

impl super::Store {
    /// What protects the data folder at rest, and whether scans may be
    /// stored there under `require_encrypted_disk` (the one check, made
    /// before a scan or an import starts or resumes).
    pub fn check_at_rest(&self, required: bool) -> Result<AtRest, super::StoreError> {
        let here = at_rest(self.data_dir());
        crate::batch::at_rest::may_store_scans(
            required,
            self.keys().is_some(),
            &here,
            &self.data_dir().display().to_string(),
        )
        .map_err(super::StoreError::NotEncrypted)?;
        Ok(here)
    }
}

/// What protects `path` at rest, read from this machine.
pub fn at_rest(path: &Path) -> AtRest {
    match std::fs::read_to_string("/proc/self/mountinfo") {
        Ok(info) => at_rest_in(path, &info, Path::new("/sys")),
        Err(e) => AtRest::Unknown {
            why: format!("cannot read /proc/self/mountinfo ({e})"),
        },
    }
}

/// [`at_rest`] with the mount table and sysfs given (tests build both).
pub fn at_rest_in(path: &Path, mountinfo: &str, sys: &Path) -> AtRest {
    let path = existing(path);
    let Some(m) = mount_of(&path, mountinfo) else {
        return AtRest::Unknown {
            why: format!("no mount holds {}", path.display()),
        };
    };
    match m.fstype.as_str() {
        "tmpfs" | "ramfs" => return AtRest::Memory { fs: m.fstype },
        "ecryptfs" => {
            return AtRest::Encrypted {
                device: m.source,
                how: "eCryptfs".into(),
            };
        }
        "nfs" | "nfs4" | "cifs" | "smb3" | "overlay" | "9p" | "virtiofs" => {
            return AtRest::Unknown {
                why: format!(
                    "the data folder is on {} ({}), whose disk Folio cannot see",
                    m.fstype, m.source
                ),
            };
        }
        t if t.starts_with("fuse") => {
            return AtRest::Unknown {
                why: format!("the data folder is on a FUSE file system ({t})"),
            };
        }
        _ => {}
    }
    let dev = match m.dev {
        (0, _) => match source_dev(&m.source) {
            Some(d) => d,
            None => {
                return AtRest::Unknown {
                    why: format!(
                        "{} on {} has no block device Folio can find",
                        m.fstype, m.source
                    ),
                };
            }
        },
        d => d,
    };
    let node = sys.join(format!("dev/block/{}:{}", dev.0, dev.1));
    if !node.exists() {
        return AtRest::Unknown {
            why: format!("device {}:{} is not in {}", dev.0, dev.1, sys.display()),
        };
    }
    match crypt_layer(&node, sys, 0) {
        Some((device, how)) => AtRest::Encrypted { device, how },
        None => AtRest::Plain {
            device: device_name(&node),
            fs: m.fstype,
        },
    }
}

/// The path with its existing part's links resolved (the rest, not made
/// yet, kept as given).
fn existing(path: &Path) -> PathBuf {
    let mut head = path.to_path_buf();
    let mut tail = Vec::new();
    loop {
        if let Ok(mut c) = head.canonicalize() {
            c.extend(tail.iter().rev());
            return c;
        }
        match head.file_name().map(std::ffi::OsStr::to_os_string) {
            Some(n) if head.pop() => tail.push(n),
            _ => return path.to_path_buf(),
        }
    }
}

struct Mount {
    dev: (u32, u32),
    fstype: String,
    source: String,
}

/// The mount holding `path`: the longest mount point that is an ancestor
/// (the later line wins for the same point, as mounts stack).
fn mount_of(path: &Path, mountinfo: &str) -> Option<Mount> {
    let mut best: Option<(usize, Mount)> = None;
    for line in mountinfo.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let Some(dash) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        let (Some(devs), Some(point), Some(fstype), Some(source)) =
            (f.get(2), f.get(4), f.get(dash + 1), f.get(dash + 2))
        else {
            continue;
        };
        let point = unescape(point);
        if !path.starts_with(&point) {
            continue;
        }
        let Some((maj, min)) = devs.split_once(':') else {
            continue;
        };
        let (Ok(maj), Ok(min)) = (maj.parse(), min.parse()) else {
            continue;
        };
        let len = point.len();
        if best.as_ref().is_none_or(|(l, _)| len >= *l) {
            best = Some((
                len,
                Mount {
                    dev: (maj, min),
                    fstype: (*fstype).to_string(),
                    source: unescape(source),
                },
            ));
        }
    }
    best.map(|(_, m)| m)
}

/// mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if b[i] == b'\\'
            && let Some(d) = octal
        {
            out.push(
                d.iter()
                    .fold(0u8, |v, c| v.wrapping_mul(8).wrapping_add(c - b'0')),
            );
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The block device a mount's source names (btrfs and others report an
/// anonymous device in mountinfo).
fn source_dev(source: &str) -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let rdev = std::fs::metadata(source).ok()?.rdev();
    Some((libc_major(rdev), libc_minor(rdev)))
}

fn libc_major(dev: u64) -> u32 {
    (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)) as u32
}

fn libc_minor(dev: u64) -> u32 {
    (((dev >> 12) & 0xffff_ff00) | (dev & 0xff)) as u32
}

/// The device's name: the device mapper's when it has one, else the
/// kernel's (`vda2`, `nvme0n1p3`).
fn device_name(node: &Path) -> String {
    if let Ok(n) = std::fs::read_to_string(node.join("dm/name")) {
        let n = n.trim();
        if !n.is_empty() {
            return format!("/dev/mapper/{n}");
        }
    }
    node.canonicalize()
        .ok()
        .and_then(|p| {
            p.file_name()
                .map(|n| format!("/dev/{}", n.to_string_lossy()))
        })
        .unwrap_or_else(|| node.display().to_string())
}

/// The first dm-crypt layer at or under `node` (through `slaves/`): its
/// name and kind.
fn crypt_layer(node: &Path, sys: &Path, depth: u32) -> Option<(String, String)> {
    if depth > 8 {
        return None;
    }
    if let Ok(uuid) = std::fs::read_to_string(node.join("dm/uuid"))
        && let Some(rest) = uuid.trim().strip_prefix("CRYPT-")
    {
        let kind = rest.split('-').next().unwrap_or("dm-crypt");
        return Some((device_name(node), format!("dm-crypt {kind}")));
    }
    let slaves = std::fs::read_dir(node.join("slaves")).ok()?;
    for s in slaves.flatten() {
        let under = sys.join("class/block").join(s.file_name());
        if let Some(found) = crypt_layer(&under, sys, depth + 1) {
            return Some(found);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A sysfs with `dev/block/M:m` links to `class/block/<name>`, each
    /// with an optional dm name and uuid and its slaves.
    struct Sys(tempfile::TempDir);

    impl Sys {
        fn new() -> Sys {
            Sys(tempfile::tempdir().unwrap())
        }

        fn dev(&self, name: &str, dev: &str, dm: Option<(&str, &str)>, slaves: &[&str]) {
            let root = self.0.path();
            let node = root.join("class/block").join(name);
            fs::create_dir_all(node.join("slaves")).unwrap();
            if let Some((dm_name, uuid)) = dm {
                fs::create_dir_all(node.join("dm")).unwrap();
                fs::write(node.join("dm/name"), format!("{dm_name}\n")).unwrap();
                fs::write(node.join("dm/uuid"), format!("{uuid}\n")).unwrap();
            }
            for s in slaves {
                fs::write(node.join("slaves").join(s), "").unwrap();
            }
            fs::create_dir_all(root.join("dev/block")).unwrap();
            std::os::unix::fs::symlink(&node, root.join("dev/block").join(dev)).unwrap();
        }
    }

    const MOUNTS: &str = "\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
40 27 253:1 / /home rw,relatime - ext4 /dev/mapper/vg-home rw
41 27 253:0 / /srv/folio\\040data rw,relatime - xfs /dev/mapper/luks-7c1e rw
42 27 0:31 / /tmp rw - tmpfs tmpfs rw
43 40 0:44 / /home/ann/Private rw - ecryptfs /home/ann/.Private rw
44 27 0:50 / /mnt/share rw - nfs4 store:/export rw
45 27 0:60 / /var/lib/docker/x rw - overlay overlay rw
";

    fn sys() -> Sys {
        let s = Sys::new();
        s.dev("vda", "254:0", None, &[]);
        // LVM on LUKS: /home's volume sits on the crypt device dm-0.
        s.dev(
            "dm-0",
            "253:0",
            Some(("luks-7c1e", "CRYPT-LUKS2-7c1e0000-lukscrypt")),
            &["vda2"],
        );
        s.dev("dm-1", "253:1", Some(("vg-home", "LVM-abc")), &["dm-0"]);
        s.dev("vda2", "254:2", None, &[]);
        s
    }

    #[test]
    fn the_data_folders_disk_is_found_through_its_layers() {
        let s = sys();
        let at = |p: &str| at_rest_in(Path::new(p), MOUNTS, s.0.path());
        assert_eq!(
            at("/srv/folio data/records"),
            AtRest::Encrypted {
                device: "/dev/mapper/luks-7c1e".into(),
                how: "dm-crypt LUKS2".into()
            },
            "a mount point with a space, on LUKS directly"
        );
        assert_eq!(
            at("/home/ann/folio"),
            AtRest::Encrypted {
                device: "/dev/mapper/luks-7c1e".into(),
                how: "dm-crypt LUKS2".into()
            },
            "LVM on LUKS"
        );
        assert_eq!(
            at("/var/lib/folio"),
            AtRest::Plain {
                device: "/dev/vda".into(),
                fs: "ext4".into()
            }
        );
        assert!(!at("/var/lib/folio").encrypted());
        assert!(at("/var/lib/folio").words().starts_with("NOT encrypted"));
        assert_eq!(at("/tmp/x"), AtRest::Memory { fs: "tmpfs".into() });
        assert!(at("/home/ann/Private/folio").encrypted(), "eCryptfs");
        for p in ["/mnt/share/folio", "/var/lib/docker/x/folio"] {
            assert!(matches!(at(p), AtRest::Unknown { .. }), "{p}");
        }
    }

    #[test]
    fn a_device_missing_from_sysfs_or_a_loop_in_it_is_not_taken_for_encryption() {
        let s = Sys::new();
        s.dev("dm-5", "253:5", Some(("a", "LVM-a")), &["dm-6"]);
        s.dev("dm-6", "253:6", Some(("b", "LVM-b")), &["dm-5"]);
        let mounts = "1 0 253:5 / / rw - ext4 /dev/mapper/a rw\n2 1 253:9 / /x rw - ext4 /dev/mapper/gone rw\n";
        let at = |p: &str| at_rest_in(Path::new(p), mounts, s.0.path());
        assert_eq!(
            at("/data"),
            AtRest::Plain {
                device: "/dev/mapper/a".into(),
                fs: "ext4".into()
            }
        );
        assert!(matches!(at("/x/data"), AtRest::Unknown { .. }));
    }

    #[test]
    fn this_machines_answer_names_a_device_or_says_why_not() {
        let here = at_rest(&std::env::temp_dir());
        let words = here.words();
        assert!(!words.is_empty());
        if let AtRest::Plain { device, .. } | AtRest::Encrypted { device, .. } = &here {
            assert!(device.starts_with("/dev/"), "{here:?}");
        }
    }
}
