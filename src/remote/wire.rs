//! Strict parser of scan output (in progress).
