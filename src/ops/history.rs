//! One history line, built one way: a [`HistoryLine`] is a [`HistoryEntry`]
//! (`{"at","by","action","from","to","note"}`, SPEC §1) serialized by serde_json,
//! never pasted together with `format!`.
//!
//! Some of a line is only known on the host, under the lock: the release the link
//! pointed at before a switch (`from`), the live release `resolve --pin` pinned
//! (`to`), what a prune or an unpin removed (`note`). Such a field is marked
//! [`HistoryLine::on_host`]: relman sends the whole line with that field `null` as the
//! script parameter `HIST`, and the script completes it with `hist_append` (lib.sh),
//! which replaces that one `null` with the value as a JSON string — the only place a
//! script writes history. A field the host leaves empty stays `null`.
//!
//! The `"KEY":null` the host replaces is found without ambiguity: inside a JSON
//! string every `"` is escaped, so `"KEY":` can only be the key itself.

use crate::model::{Action, HistoryEntry};
use crate::remote::script::Script;

/// A field of a history line that the host fills in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostField {
    From,
    To,
    Note,
}

impl HostField {
    /// The key in the JSON line, as the scripts name it to `hist_append`.
    pub fn key(self) -> &'static str {
        match self {
            HostField::From => "from",
            HostField::To => "to",
            HostField::Note => "note",
        }
    }
}

/// A history line on its way to a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryLine {
    entry: HistoryEntry,
    on_host: Option<HostField>,
}

impl HistoryLine {
    /// A line for `action` by this operator, now; `from`, `to` and `note` are null.
    pub fn new(action: Action) -> Self {
        Self::at(&super::now_rfc3339(), &super::operator(), action)
    }

    /// [`HistoryLine::new`] with the time and the operator given (tests, replays).
    pub fn at(at: &str, by: &str, action: Action) -> Self {
        HistoryLine {
            entry: HistoryEntry {
                at: at.to_string(),
                by: by.to_string(),
                action,
                from: None,
                to: None,
                note: None,
            },
            on_host: None,
        }
    }

    /// The release the link pointed at before (None: null).
    pub fn from(mut self, from: Option<&str>) -> Self {
        self.entry.from = from.map(str::to_string);
        self.cleared(HostField::From)
    }

    /// The release the line is about (None: null).
    pub fn to(mut self, to: Option<&str>) -> Self {
        self.entry.to = to.map(str::to_string);
        self.cleared(HostField::To)
    }

    /// What the operator should read besides (None: null).
    pub fn note(mut self, note: Option<&str>) -> Self {
        self.entry.note = note.map(str::to_string);
        self.cleared(HostField::Note)
    }

    /// `field` is filled in on the host (by `hist_append`); until then it is null.
    /// One field at most: a later call replaces an earlier one.
    pub fn on_host(mut self, field: HostField) -> Self {
        match field {
            HostField::From => self.entry.from = None,
            HostField::To => self.entry.to = None,
            HostField::Note => self.entry.note = None,
        }
        self.on_host = Some(field);
        self
    }

    /// A field set here is no longer the host's to fill.
    fn cleared(mut self, field: HostField) -> Self {
        if self.on_host == Some(field) {
            self.on_host = None;
        }
        self
    }

    /// The field the host fills in, if any.
    pub fn host_field(&self) -> Option<HostField> {
        self.on_host
    }

    /// The entry as written when the host has nothing to add.
    pub fn entry(&self) -> &HistoryEntry {
        &self.entry
    }

    /// The line as one JSON object on one line (no newline), the host's field null.
    pub fn to_json(&self) -> String {
        #[allow(clippy::expect_used)]
        // strings, options of strings and a unit enum: serde_json cannot fail on them
        serde_json::to_string(&self.entry).expect("a history entry serializes")
    }

    /// `script` with the line as its `HIST` parameter (what `hist_append` reads).
    pub fn param(&self, script: Script) -> Script {
        script.param("HIST", self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> HistoryLine {
        HistoryLine::at("2026-12-02T01:00:00Z", "ops@desk", Action::Switch)
    }

    fn parse(s: &str) -> HistoryEntry {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn a_line_has_every_key_in_the_spec_order() {
        let l = line().from(Some("b_1")).to(Some("b_2"));
        assert_eq!(
            l.to_json(),
            r#"{"at":"2026-12-02T01:00:00Z","by":"ops@desk","action":"switch","from":"b_1","to":"b_2","note":null}"#
        );
    }

    #[test]
    fn every_action_round_trips_through_the_history_parser() {
        for a in [
            Action::Deploy,
            Action::Switch,
            Action::Rollback,
            Action::Prune,
            Action::Pin,
            Action::Unpin,
            Action::Unlock,
            Action::Refuse,
            Action::Probation,
            Action::Accept,
        ] {
            let l = HistoryLine::at("t", "u@h", a).to(Some("x")).note(Some("n"));
            let json = l.to_json();
            assert!(
                json.contains(&format!("\"action\":\"{}\"", a.as_str())),
                "{json}"
            );
            assert_eq!(&parse(&json), l.entry());
        }
    }

    #[test]
    fn a_note_with_quotes_backslashes_and_control_characters_stays_one_json_line() {
        let note = "a \"quoted\" \\path\\\nsecond line\tand a tab \u{1} \u{7f} é";
        let l = line().note(Some(note));
        let json = l.to_json();
        assert!(!json.contains('\n') && !json.contains('\t') && !json.contains('\r'));
        assert!(!json.contains('\u{1}'));
        assert_eq!(parse(&json).note.as_deref(), Some(note));
    }

    #[test]
    fn the_host_field_is_null_until_the_host_fills_it() {
        let l = line()
            .from(Some("b_1"))
            .to(Some("b_2"))
            .on_host(HostField::From);
        assert_eq!(l.host_field(), Some(HostField::From));
        assert_eq!(parse(&l.to_json()).from, None);
        assert!(l.to_json().contains("\"from\":null"));
        // Set again on this side: no longer the host's.
        let l = l.from(Some("b_0"));
        assert_eq!(l.host_field(), None);
        assert_eq!(parse(&l.to_json()).from.as_deref(), Some("b_0"));
    }

    #[test]
    fn the_host_key_appears_once_whatever_the_other_fields_hold() {
        // What hist_append looks for, `"from":null`, planted in every other field.
        let evil = r#""from":null,"note":null"#;
        for f in [HostField::From, HostField::To, HostField::Note] {
            let l = HistoryLine::at(evil, evil, Action::Prune)
                .from(Some(evil))
                .to(Some(evil))
                .note(Some(evil))
                .on_host(f);
            let json = l.to_json();
            let key = format!("\"{}\":null", f.key());
            assert_eq!(json.matches(&key).count(), 1, "{json}");
        }
    }

    #[test]
    fn lines_read_back_drive_the_history_rules() {
        // What switch.sh would write once the host filled in `from`.
        let write = |a: Action, from: &str, to: &str| {
            let json = HistoryLine::at("t", "u@h", a).to(Some(to)).to_json();
            let json = json.replace("\"from\":null", &format!("\"from\":\"{from}\""));
            parse(&json)
        };
        let h = vec![
            write(Action::Deploy, "b_0", "b_1"),
            write(Action::Switch, "b_1", "b_2"),
            write(Action::Rollback, "b_2", "b_1"),
        ];
        assert_eq!(
            crate::plan::history::bad_releases(&h)
                .into_iter()
                .collect::<Vec<_>>(),
            ["b_2"]
        );
        assert_eq!(crate::plan::history::live_stack(&h), ["b_0", "b_1"]);
    }

    #[test]
    fn param_passes_the_line_as_hist() {
        let s = line().param(Script::bare("true")).render().unwrap();
        assert!(s.contains("HIST="), "{s}");
    }
}
