//! Deploy decisions: the new release's name (one name for the whole fleet) and which
//! files need sending versus which can be hard-linked from the live release.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::model::{HostState, Manifest, ManifestFile, ReleaseName};

/// The largest clash counter a release name may carry (`.N` has at most 9 digits).
const MAX_SEQ: u32 = 999_999_999;

/// Every name on a host a new release must not reuse: its releases and its staging
/// directories (an upload in progress will become a release with that name).
/// Staging entries that are not release names are ignored.
pub fn taken_names(state: &HostState) -> Vec<ReleaseName> {
    let staged = state
        .staging
        .iter()
        .filter_map(|s| ReleaseName::parse(&state.prefix, s).ok());
    state
        .releases
        .iter()
        .map(|r| r.name.clone())
        .chain(staged)
        .collect()
}

/// The name of a release deployed at `now`: `prefix` + the UTC time `YYYYMMDDHHMMSS`.
///
/// One deploy gives the same name on every host, so `taken` holds the names in use on
/// each target host (see [`taken_names`]). If the plain name or any `.N` of the same
/// timestamp is taken anywhere, the name gets the smallest `.N` greater than every
/// counter taken for that timestamp — never a gap-filling `.1` below a `.2`, so names
/// keep sorting in deploy order. Names are compared by timestamp and counter, not by
/// prefix, so hosts configured with different prefixes still get the same counter.
///
/// The new name always sorts after every taken name, whatever clock named them: a
/// host whose seed script named releases in its local time (`date +%Y%m%d%H%M%S` on
/// a server 9 h ahead of UTC) holds names in the future, and a plain UTC name would
/// sort *below* them (drift, prune's newest N and rollback by name would all pick the
/// seed's). So when the newest taken name's second is later than `now`'s, the name
/// is that second + 1 s (`now` catches up by itself once the clocks agree). A name
/// in the same second as `now` is a clash (`.N`, as above).
///
/// If every counter of that second is used (only possible with forged names), the
/// next second is tried instead of panicking.
pub fn deploy_name(prefix: &str, now: SystemTime, taken: &[&[ReleaseName]]) -> ReleaseName {
    let now_stamp = ReleaseName::new(prefix, now, 0).stamp();
    let newest = taken.iter().flat_map(|host| host.iter()).max();
    let mut at = match newest {
        Some(n) if n.stamp() > now_stamp => n.time() + Duration::from_secs(1),
        _ => now,
    };
    loop {
        let base = ReleaseName::new(prefix, at, 0);
        let stamp = base.time();
        let max_taken = taken
            .iter()
            .flat_map(|host| host.iter())
            .filter(|n| n.time() == stamp)
            .map(ReleaseName::seq)
            .max();
        match max_taken {
            None => return base,
            Some(n) if n < MAX_SEQ => return base.with_seq(prefix, n + 1),
            Some(_) => at = stamp + Duration::from_secs(1),
        }
    }
}

/// How far in the future a release name may be before `relman check` warns: more
/// than clocks a little apart, less than any time zone's offset.
pub const FUTURE_WARN: Duration = Duration::from_secs(5 * 60);

/// A host's newest release named in the future (by more than [`FUTURE_WARN`]): the
/// clock or time zone that named it is not UTC's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FutureName {
    /// The newest release by name.
    pub newest: ReleaseName,
    /// How far ahead of `now` its name is.
    pub ahead: Duration,
    /// The name a deploy now would get on this host alone: after `newest`.
    pub next: ReleaseName,
}

/// Whether `state`'s newest release is named in the future, as seen at `now` (the
/// later of this machine's clock and the host's, as [`deploy_name`] uses).
pub fn future_name(state: &HostState, now: SystemTime) -> Option<FutureName> {
    let now = now.max(state.scanned_at);
    let newest = state.releases.iter().map(|r| &r.name).max()?;
    let ahead = newest.time().duration_since(now).ok()?;
    (ahead > FUTURE_WARN).then(|| FutureName {
        newest: newest.clone(),
        ahead,
        next: deploy_name(&state.prefix, now, &[&taken_names(state)]),
    })
}

/// What to do with one file of a new release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileAction {
    /// Hard-link the file from the live release: same path, size, sha256 and mode.
    Link { path: String, size: u64 },
    /// Send the file's bytes.
    Upload { path: String, size: u64 },
}

impl FileAction {
    pub fn path(&self) -> &str {
        match self {
            FileAction::Link { path, .. } | FileAction::Upload { path, .. } => path,
        }
    }

    pub fn size(&self) -> u64 {
        match self {
            FileAction::Link { size, .. } | FileAction::Upload { size, .. } => *size,
        }
    }

    pub fn is_upload(&self) -> bool {
        matches!(self, FileAction::Upload { .. })
    }
}

/// Which of the local files (in their order) a delta deploy links and which it uploads.
///
/// A file is linked when the live release's manifest lists the same path with the same
/// size, sha256 and mode. Mode matters because a hard link shares the inode: linking a
/// file that should be executable to one that isn't would change either the new or the
/// live release. Without a live manifest (first deploy, a release made by hand, an
/// unreadable manifest) everything is uploaded. The manifest is the live release's own
/// word; an operation that distrusts it can verify hashes on the host before linking.
pub fn delta(local: &[ManifestFile], live: Option<&Manifest>) -> Vec<FileAction> {
    let live: BTreeMap<&str, &ManifestFile> = live
        .map(|m| m.files.iter().map(|f| (f.path.as_str(), f)).collect())
        .unwrap_or_default();
    local
        .iter()
        .map(|f| {
            let same = live.get(f.path.as_str()).is_some_and(|l| {
                l.size == f.size && l.mode == f.mode && l.sha256.eq_ignore_ascii_case(&f.sha256)
            });
            let (path, size) = (f.path.clone(), f.size);
            if same {
                FileAction::Link { path, size }
            } else {
                FileAction::Upload { path, size }
            }
        })
        .collect()
}

/// Bytes a delta deploy sends: the sizes of the uploads.
pub fn bytes_to_send(actions: &[FileAction]) -> u64 {
    actions
        .iter()
        .filter(|a| a.is_upload())
        .map(FileAction::size)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testkit::*;

    fn at() -> SystemTime {
        t("2026-11-26T22:15:00Z")
    }

    fn n(s: &str) -> ReleaseName {
        name(s)
    }

    #[test]
    fn a_free_name_is_the_plain_utc_stamp() {
        assert_eq!(
            deploy_name(PREFIX, at(), &[]).as_str(),
            "batch_20261126221500"
        );
        let other = [n("batch_20261126221459"), n("batch_20261126221458.3")];
        assert_eq!(
            deploy_name(PREFIX, at(), &[&other]).as_str(),
            "batch_20261126221500"
        );
    }

    #[test]
    fn a_name_in_the_future_anywhere_is_followed_not_undercut() {
        // A seed that named releases in KST (9 h ahead of UTC) on one host.
        let seed = [
            n("batch_20261127071400"),
            n("batch_20261127071500"),
            n("batch_20261126221459"),
        ];
        let other = [n("batch_20261126221000")];
        let name = deploy_name(PREFIX, at(), &[&other, &seed]);
        assert_eq!(name.as_str(), "batch_20261127071501");
        assert!(seed.iter().chain(&other).all(|s| *s < name));
        // Its counter too: the next second, not a `.N` of the seed's.
        let seed = [n("batch_20261127071500.4")];
        assert_eq!(
            deploy_name(PREFIX, at(), &[&seed]).as_str(),
            "batch_20261127071501"
        );
        // One second later than now is still the future.
        let near = [n("batch_20261126221501")];
        assert_eq!(
            deploy_name(PREFIX, at(), &[&near]).as_str(),
            "batch_20261126221502"
        );
        // And the new name is what the next deploy must follow.
        let after = [n("batch_20261127071501")];
        assert_eq!(
            deploy_name(PREFIX, at() + Duration::from_secs(60), &[&seed, &after]).as_str(),
            "batch_20261127071502"
        );
    }

    #[test]
    fn a_clash_on_any_host_takes_the_next_counter_everywhere() {
        let h1 = [n("batch_20261126221500")];
        let h2: [ReleaseName; 0] = [];
        assert_eq!(
            deploy_name(PREFIX, at(), &[&h2, &h1]).as_str(),
            "batch_20261126221500.1"
        );
        let h3 = [n("batch_20261126221500.1"), n("batch_20261126221500.4")];
        assert_eq!(
            deploy_name(PREFIX, at(), &[&h1, &h3]).as_str(),
            "batch_20261126221500.5"
        );
    }

    #[test]
    fn only_a_counter_taken_still_counts() {
        // The plain name is free but `.2` exists: go above it, don't slip in below.
        let h = [n("batch_20261126221500.2")];
        assert_eq!(
            deploy_name(PREFIX, at(), &[&h]).as_str(),
            "batch_20261126221500.3"
        );
    }

    #[test]
    fn sub_second_precision_is_dropped() {
        let now = at() + Duration::from_millis(900);
        assert_eq!(
            deploy_name(PREFIX, now, &[]).as_str(),
            "batch_20261126221500"
        );
    }

    #[test]
    fn other_prefixes_share_the_counter() {
        let h = [ReleaseName::parse("app_", "app_20261126221500.1").unwrap()];
        assert_eq!(
            deploy_name(PREFIX, at(), &[&h]).as_str(),
            "batch_20261126221500.2"
        );
    }

    #[test]
    fn exhausted_counters_move_to_the_next_second() {
        let h = [n("batch_20261126221500.999999999")];
        assert_eq!(
            deploy_name(PREFIX, at(), &[&h]).as_str(),
            "batch_20261126221501"
        );
    }

    #[test]
    fn staging_names_are_taken_too() {
        let mut st = host(&["batch_20261126221500".to_string()], None);
        st.staging = vec!["batch_20261126221500.1".into(), "garbage".into()];
        let taken = taken_names(&st);
        assert_eq!(taken.len(), 2);
        assert_eq!(
            deploy_name(PREFIX, at(), &[&taken]).as_str(),
            "batch_20261126221500.2"
        );
    }

    #[test]
    fn a_newest_release_named_in_the_future_is_found() {
        let mut st = host(
            &[
                "batch_20261127071500".to_string(),
                "batch_20261126220000".to_string(),
            ],
            None,
        );
        st.scanned_at = at();
        let f = future_name(&st, at()).expect("9 h ahead");
        assert_eq!(f.newest.as_str(), "batch_20261127071500");
        assert_eq!(f.ahead, Duration::from_secs(9 * 3600));
        assert_eq!(f.next.as_str(), "batch_20261127071501");
        // A few minutes ahead (clocks apart) is not worth a warning; none at all either.
        let st = host(&["batch_20261126221900".to_string()], None);
        assert_eq!(future_name(&st, at()), None);
        let st = host(&["batch_20261126220000".to_string()], None);
        assert_eq!(future_name(&st, at()), None);
        assert_eq!(future_name(&host(&[], None), at()), None);
    }

    fn file(path: &str, size: u64, sha: &str, mode: u32) -> ManifestFile {
        ManifestFile {
            path: path.into(),
            size,
            sha256: sha.into(),
            mode,
        }
    }

    fn manifest(files: Vec<ManifestFile>) -> Manifest {
        Manifest {
            name: "batch_20261126221500".into(),
            created_at: "2026-11-26T22:15:00Z".into(),
            created_by: "op@laptop".into(),
            message: String::new(),
            files,
        }
    }

    #[test]
    fn delta_links_identical_files_and_uploads_the_rest() {
        let live = manifest(vec![
            file("app.jar", 100, "aa", 0o644),
            file("lib/a.jar", 200, "bb", 0o644),
            file("run.sh", 10, "cc", 0o755),
            file("config/app.yml", 5, "dd", 0o644),
        ]);
        let local = vec![
            file("app.jar", 100, "ab", 0o644),      // content changed
            file("lib/a.jar", 200, "BB", 0o644),    // same (hex case differs)
            file("run.sh", 10, "cc", 0o644),        // mode changed
            file("config/app.yml", 6, "dd", 0o644), // size changed
            file("lib/new.jar", 300, "ee", 0o644),  // new
        ];
        let d = delta(&local, Some(&live));
        assert_eq!(
            d,
            vec![
                FileAction::Upload {
                    path: "app.jar".into(),
                    size: 100
                },
                FileAction::Link {
                    path: "lib/a.jar".into(),
                    size: 200
                },
                FileAction::Upload {
                    path: "run.sh".into(),
                    size: 10
                },
                FileAction::Upload {
                    path: "config/app.yml".into(),
                    size: 6
                },
                FileAction::Upload {
                    path: "lib/new.jar".into(),
                    size: 300
                },
            ]
        );
        assert_eq!(bytes_to_send(&d), 100 + 10 + 6 + 300);
    }

    #[test]
    fn a_file_at_another_path_is_not_linked() {
        let live = manifest(vec![file("old/app.jar", 100, "aa", 0o644)]);
        let d = delta(&[file("app.jar", 100, "aa", 0o644)], Some(&live));
        assert!(d[0].is_upload());
    }

    #[test]
    fn without_a_live_manifest_everything_is_uploaded() {
        let local = vec![file("a", 1, "x", 0o644), file("b", 2, "y", 0o644)];
        let d = delta(&local, None);
        assert!(d.iter().all(FileAction::is_upload));
        assert_eq!(bytes_to_send(&d), 3);
        assert_eq!(d[1].path(), "b");
        assert_eq!(bytes_to_send(&delta(&[], None)), 0);
        // Everything identical: nothing to send.
        let live = manifest(local.clone());
        assert_eq!(bytes_to_send(&delta(&local, Some(&live))), 0);
    }
}
