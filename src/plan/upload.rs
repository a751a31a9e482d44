//! How a deploy's upload is split over several SSH channels ("lanes") of one
//! connection. One channel moves at most the window sshd advertises (2 MiB) per round
//! trip, so at 50 ms one lane tops out near 40 MB/s whatever the wire can do; lanes
//! in parallel each get a window of their own (BENCHMARKS.md, issue 17 target 5).
//!
//! A lane is a list of [`Piece`]s: a whole file, or a byte range of a big one. The
//! lanes carry about the same number of bytes; a file is cut only at MiB boundaries,
//! every piece of a cut file is at least [`MIB`] long (so the receiver writes it
//! with `dd bs=1M seek=`, and a piece's end is either a MiB boundary or the file's
//! end), and a file that may already exist on the host (a rejected hard-link
//! candidate, which the receiver must unlink before writing) is never cut: only a
//! whole file is unlinked and written afresh, so no lane can write through a link
//! another lane has not yet removed.

/// One MiB: pieces start at multiples of it.
pub const MIB: u64 = 1 << 20;

/// The most lanes an upload uses.
pub const MAX_LANES: usize = 4;

/// A lane is only worth its channel (and its receiver's shell) from this many
/// bytes: below, one lane carries everything, as the upload always did.
pub const LANE_MIN: u64 = 16 * MIB;

/// The most lanes each host's upload may use when `hosts` upload at once: the
/// [`MAX_LANES`] channels shared out among them, at least one each, and no more
/// than `cap` (`RELMAN_UPLOAD_LANES`). Hosts uploading in parallel already fill
/// the wire and the cores, and every lane costs the host a login shell: measured
/// (BENCHMARKS.md), 20 hosts at 25 ms took 14 % longer with four lanes each than
/// with one, and 58 % longer with a heavy rc file.
pub fn lanes_per_host(hosts: usize, cap: usize) -> usize {
    (MAX_LANES / hosts.max(1)).clamp(1, cap.clamp(1, MAX_LANES))
}

/// A file to send, as the lane planner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToSend {
    pub size: u64,
    /// False for a file that may already exist in the staging directory (a hard
    /// link prepare made and relman rejected): sent whole, never cut.
    pub cuttable: bool,
}

/// Part of one file (index into the list planned) carried by one lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub file: usize,
    pub offset: u64,
    pub len: u64,
    /// The piece is the whole file: the receiver unlinks what is there and writes
    /// it afresh. A part is written in place (`seek`, no truncation).
    pub whole: bool,
}

/// How many lanes `total` bytes are worth (at least one, at most `max`, itself
/// capped at [`MAX_LANES`]).
pub fn lane_count(total: u64, max: usize) -> usize {
    ((total / LANE_MIN) as usize).clamp(1, max.clamp(1, MAX_LANES))
}

/// Splits `files` over `lanes` lanes (at least one) of about equal bytes, in file
/// order: each file's bytes appear exactly once, in pieces that follow the rules
/// of the module doc. Lane `k` ends near the `(k + 1)`-th share of all the bytes
/// (a file that can't be cut there goes where it misses it least), so a lane
/// is within about one file of its share. Lanes may come out empty (few big
/// uncuttable files); the caller drops those.
pub fn lanes(files: &[ToSend], lanes: usize) -> Vec<Vec<Piece>> {
    let lanes = lanes.max(1);
    let total: u64 = files.iter().map(|f| f.size).sum();
    let share = total.div_ceil(lanes as u64).max(1);
    let mut out: Vec<Vec<Piece>> = vec![Vec::new(); lanes];
    let mut lane = 0;
    let mut pos = 0u64; // bytes planned so far, over all lanes
    for (i, f) in files.iter().enumerate() {
        let mut off = 0u64;
        loop {
            let rest = f.size - off;
            let last = lane + 1 == lanes;
            let room = (share * (lane as u64 + 1)).saturating_sub(pos);
            // A cut gives this lane whole MiBs of the file, and leaves at least one
            // MiB for the next piece.
            let take = (room / MIB) * MIB;
            if f.cuttable && !last && rest > room && take >= MIB && rest - take >= MIB {
                out[lane].push(Piece {
                    file: i,
                    offset: off,
                    len: take,
                    whole: false,
                });
                off += take;
                pos += take;
                lane += 1;
                continue;
            }
            // What can't be cut here goes to the next lane if less than half of it
            // fits in this one (and this one has something).
            if !last && rest > room && room < rest / 2 && !out[lane].is_empty() {
                lane += 1;
                continue;
            }
            out[lane].push(Piece {
                file: i,
                offset: off,
                len: rest,
                whole: off == 0,
            });
            pos += rest;
            while !last && lane + 1 < lanes && pos >= share * (lane as u64 + 1) {
                lane += 1;
            }
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(size: u64) -> ToSend {
        ToSend {
            size,
            cuttable: true,
        }
    }

    /// Every byte of every file exactly once, pieces in order, the rules kept.
    fn check(files: &[ToSend], plan: &[Vec<Piece>]) {
        for (i, f) in files.iter().enumerate() {
            let mut pieces: Vec<&Piece> = plan.iter().flatten().filter(|p| p.file == i).collect();
            pieces.sort_by_key(|p| p.offset);
            let mut at = 0;
            for p in &pieces {
                assert_eq!(p.offset, at, "file {i}: a gap or an overlap at {at}");
                at += p.len;
                if pieces.len() > 1 {
                    assert!(f.cuttable, "file {i} was cut");
                    assert!(!p.whole);
                    assert_eq!(p.offset % MIB, 0, "file {i}: a piece off a MiB boundary");
                    assert!(p.len >= MIB, "file {i}: a piece under a MiB");
                } else {
                    assert!(p.whole, "file {i}: a lone piece not whole");
                }
            }
            assert_eq!(at, f.size, "file {i}: not every byte planned");
            if f.size == 0 {
                assert_eq!(pieces.len(), 1, "an empty file is sent once");
            }
        }
    }

    fn bytes(lane: &[Piece]) -> u64 {
        lane.iter().map(|p| p.len).sum()
    }

    #[test]
    fn one_big_file_is_cut_into_equal_mib_aligned_pieces() {
        let files = [cut(256 * MIB)];
        let plan = lanes(&files, 4);
        check(&files, &plan);
        assert!(plan.iter().all(|l| bytes(l) == 64 * MIB), "{plan:?}");
    }

    #[test]
    fn an_odd_size_ends_in_the_last_lane_and_no_piece_is_under_a_mib() {
        for size in [
            4 * MIB + 1,
            5 * MIB - 1,
            64 * MIB + 12345,
            3 * MIB,
            2 * MIB + 7,
        ] {
            let files = [cut(size)];
            for n in 1..=4 {
                let plan = lanes(&files, n);
                check(&files, &plan);
                let used = plan.iter().filter(|l| !l.is_empty()).count();
                assert!(used <= n);
            }
        }
    }

    #[test]
    fn a_file_that_may_exist_already_is_never_cut() {
        let files = [
            ToSend {
                size: 100 * MIB,
                cuttable: false,
            },
            cut(10 * MIB),
        ];
        let plan = lanes(&files, 4);
        check(&files, &plan);
        assert_eq!(
            plan[0],
            [Piece {
                file: 0,
                offset: 0,
                len: 100 * MIB,
                whole: true
            }]
        );
    }

    #[test]
    fn many_small_files_are_spread_whole_and_in_order() {
        let files: Vec<ToSend> = (0..100).map(|i| cut(300_000 + i * 1000)).collect();
        let plan = lanes(&files, 4);
        check(&files, &plan);
        let total: u64 = files.iter().map(|f| f.size).sum();
        for l in &plan {
            // Each end of a lane is within half a file of its mark: a lane is
            // within one file of the share.
            assert!(bytes(l).abs_diff(total / 4) <= 400_000, "{}", bytes(l));
            assert!(l.windows(2).all(|w| w[0].file < w[1].file));
        }
    }

    #[test]
    fn mixed_files_with_empty_ones_plan_every_byte() {
        let files = [
            cut(0),
            cut(40 * MIB + 3),
            cut(1),
            ToSend {
                size: 7 * MIB,
                cuttable: false,
            },
            cut(0),
            cut(90 * MIB),
            cut(MIB + 1),
        ];
        for n in 1..=4 {
            check(&files, &lanes(&files, n));
        }
    }

    #[test]
    fn one_lane_is_the_old_single_stream() {
        let files = [cut(500 * MIB), cut(3)];
        let plan = lanes(&files, 1);
        assert_eq!(plan.len(), 1);
        assert!(plan[0].iter().all(|p| p.whole));
        assert_eq!(plan[0].len(), 2);
    }

    #[test]
    fn hosts_uploading_at_once_share_the_four_lanes() {
        assert_eq!(lanes_per_host(1, MAX_LANES), 4);
        assert_eq!(lanes_per_host(0, MAX_LANES), 4);
        assert_eq!(lanes_per_host(2, MAX_LANES), 2);
        assert_eq!(lanes_per_host(3, MAX_LANES), 1);
        assert_eq!(lanes_per_host(20, MAX_LANES), 1);
        assert_eq!(lanes_per_host(1, 1), 1);
        assert_eq!(lanes_per_host(1, 2), 2);
        assert_eq!(lanes_per_host(20, 4), 1);
    }

    #[test]
    fn lanes_are_worth_sixteen_mib_each_up_to_four() {
        assert_eq!(lane_count(0, MAX_LANES), 1);
        assert_eq!(lane_count(LANE_MIN * 2 - 1, MAX_LANES), 1);
        assert_eq!(lane_count(LANE_MIN * 2, MAX_LANES), 2);
        assert_eq!(lane_count(LANE_MIN * 3, MAX_LANES), 3);
        assert_eq!(lane_count(256 * MIB, MAX_LANES), 4);
        // RELMAN_UPLOAD_LANES caps it (0 means one, more than four means four).
        assert_eq!(lane_count(256 * MIB, 1), 1);
        assert_eq!(lane_count(256 * MIB, 0), 1);
        assert_eq!(lane_count(256 * MIB, 2), 2);
        assert_eq!(lane_count(256 * MIB, 9), 4);
    }
}
