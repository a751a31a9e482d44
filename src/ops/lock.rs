//! The host lock (in progress).
