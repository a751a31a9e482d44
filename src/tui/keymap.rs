//! The console's keys: ONE declarative table.
//!
//! Each binding names its key(s), the action, a help text, whether it changes a host
//! (mutating) and the contexts where it works. The same table drives dispatch
//! (`lookup`), the footer hints (`hints`: keys valid now), the `?` help popup (every key)
//! and `--readonly` (mutating keys are refused with a message that names them).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// One key: a code, with or without Ctrl. Shift is part of the character ('P', BackTab).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

const fn ch(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}

const fn k(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}

impl Key {
    /// The key of a terminal event, or `None` for releases/repeats that are not presses
    /// (crossterm reports releases on some platforms) and for keys with Alt/Super.
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        if ev.kind != KeyEventKind::Press {
            return None;
        }
        let m = ev.modifiers;
        if m.intersects(KeyModifiers::ALT | KeyModifiers::SUPER | KeyModifiers::META) {
            return None;
        }
        let code = match ev.code {
            KeyCode::Tab if m.contains(KeyModifiers::SHIFT) => KeyCode::BackTab,
            c => c,
        };
        Some(Key {
            code,
            ctrl: m.contains(KeyModifiers::CONTROL),
        })
    }

    /// The character this key types into a text field, if any.
    pub fn text(&self) -> Option<char> {
        match self.code {
            KeyCode::Char(c) if !self.ctrl && !c.is_control() => Some(c),
            _ => None,
        }
    }
}

/// What a key does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextPane,
    PrevPane,
    Details,
    Switch,
    Rollback,
    Deploy,
    Prune,
    Pin,
    /// Break the selected host's lock (after confirming its holder).
    Unlock,
    /// Check the selected host (details pane).
    Check,
    /// Accept the selected host's probation (end it early), after confirming.
    Accept,
    History,
    Fleet,
    /// In the fleet view: switch every host that has the selected release to it.
    FleetSwitch,
    Filter,
    Refresh,
    Help,
    Quit,
    /// Esc on the main screen: clear the filter.
    ClearFilter,
    /// Dialogs.
    Confirm,
    Cancel,
    ToggleButton,
    Activate,
    /// Text input (typed `yes`, forms, filter).
    Submit,
    Erase,
    Complete,
    PrevField,
    NextField,
    CycleNext,
    CyclePrev,
    /// Help, fleet view, error popup.
    Close,
}

/// Where the operator is: which pane has focus, or which overlay is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctx {
    Hosts,
    Releases,
    Details,
    /// A confirmation dialog (`y` runs it).
    Dialog,
    /// A confirmation that needs `yes` typed (an action on more than one host).
    Typed,
    /// The deploy or pin prompt.
    Form,
    /// Typing a filter.
    Filter,
    Help,
    Fleet,
    /// An error popup.
    Error,
}

impl Ctx {
    const fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// Contexts where printable keys are text, not commands.
    pub fn is_text(self) -> bool {
        matches!(self, Ctx::Typed | Ctx::Form | Ctx::Filter)
    }
}

/// A set of contexts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ctxs(u16);

impl Ctxs {
    pub const fn of(list: &[Ctx]) -> Ctxs {
        let mut bits = 0;
        let mut i = 0;
        while i < list.len() {
            bits |= list[i].bit();
            i += 1;
        }
        Ctxs(bits)
    }

    pub fn contains(self, c: Ctx) -> bool {
        self.0 & c.bit() != 0
    }
}

const MAIN: Ctxs = Ctxs::of(&[Ctx::Hosts, Ctx::Releases, Ctx::Details]);
const ON_RELEASE: Ctxs = Ctxs::of(&[Ctx::Releases, Ctx::Details]);
const MOVE: Ctxs = Ctxs::of(&[
    Ctx::Hosts,
    Ctx::Releases,
    Ctx::Details,
    Ctx::Help,
    Ctx::Fleet,
]);
const EVERYWHERE: Ctxs = Ctxs(u16::MAX);

/// One row of the key table.
#[derive(Debug)]
pub struct Binding {
    pub keys: &'static [Key],
    /// How the help popup writes the key(s).
    pub label: &'static str,
    /// How the footer writes them (shorter).
    pub hint: &'static str,
    pub action: Action,
    /// Short name: the footer hint and the read-only message.
    pub name: &'static str,
    /// The help popup's text.
    pub help: &'static str,
    /// Changes a host: refused in `--readonly`.
    pub mutating: bool,
    /// Shown in the footer when valid (the rest only in `?`).
    pub footer: bool,
    pub ctx: Ctxs,
}

const fn b(
    keys: &'static [Key],
    label: &'static str,
    action: Action,
    name: &'static str,
    help: &'static str,
    ctx: Ctxs,
) -> Binding {
    Binding {
        keys,
        label,
        hint: label,
        action,
        name,
        help,
        mutating: false,
        footer: true,
        ctx,
    }
}

const fn mutating(mut x: Binding) -> Binding {
    x.mutating = true;
    x
}

const fn hint(mut x: Binding, h: &'static str) -> Binding {
    x.hint = h;
    x
}

const fn quiet(mut x: Binding) -> Binding {
    x.footer = false;
    x
}

use Action as A;
use KeyCode as C;

/// The key table. Order is the order of the footer and of the help popup.
pub static BINDINGS: &[Binding] = &[
    // The main screen (SPEC §5).
    quiet(b(&[k(C::Up), ch('k')], "↑ k", A::Up, "up", "move up", MOVE)),
    hint(
        b(
            &[k(C::Down), ch('j')],
            "↓ j",
            A::Down,
            "move",
            "move down",
            MOVE,
        ),
        "j/k",
    ),
    quiet(b(
        &[k(C::PageUp)],
        "PgUp",
        A::PageUp,
        "page up",
        "move one page up",
        MOVE,
    )),
    quiet(b(
        &[k(C::PageDown)],
        "PgDn",
        A::PageDown,
        "page down",
        "move one page down",
        MOVE,
    )),
    quiet(b(
        &[ch('g'), k(C::Home)],
        "g",
        A::Top,
        "first",
        "move to the first row",
        MOVE,
    )),
    quiet(b(
        &[ch('G'), k(C::End)],
        "G",
        A::Bottom,
        "last",
        "move to the last row",
        MOVE,
    )),
    b(&[k(C::Tab)], "Tab", A::NextPane, "pane", "next pane", MAIN),
    quiet(b(
        &[k(C::BackTab)],
        "S-Tab",
        A::PrevPane,
        "prev pane",
        "previous pane",
        MAIN,
    )),
    quiet(b(
        &[k(C::Enter)],
        "Enter",
        A::Details,
        "details",
        "details of the selected release",
        MAIN,
    )),
    mutating(b(
        &[ch('s')],
        "s",
        A::Switch,
        "switch",
        "switch the link to the selected release (confirm: host, from → to, jobs on each)",
        ON_RELEASE,
    )),
    mutating(b(
        &[ch('r')],
        "r",
        A::Rollback,
        "rollback",
        "roll back to the release live before the current one (confirm: from → to)",
        MAIN,
    )),
    mutating(b(
        &[ch('d')],
        "d",
        A::Deploy,
        "deploy",
        "deploy local path(s) as a new release: this host, a group or all, progress per host",
        MAIN,
    )),
    mutating(b(
        &[ch('p')],
        "p",
        A::Prune,
        "prune",
        "prune old releases: the plan with each verdict and reason, then confirm",
        MAIN,
    )),
    mutating(b(
        &[ch('P')],
        "P",
        A::Pin,
        "pin",
        "pin the selected release for a duration, or unpin it",
        ON_RELEASE,
    )),
    quiet(mutating(b(
        &[ch('u')],
        "u",
        A::Unlock,
        "unlock",
        "unlock: who holds the host's lock, since when, doing what; break it after confirming",
        MAIN,
    ))),
    mutating(b(
        &[ch('A')],
        "A",
        A::Accept,
        "accept",
        "accept the live release's probation: end it early, after confirming",
        MAIN,
    )),
    quiet(b(
        &[ch('c')],
        "c",
        A::Check,
        "check",
        "check the host: tools found/missing and sanity, in the details pane (toggle)",
        MAIN,
    )),
    b(
        &[ch('h')],
        "h",
        A::History,
        "history",
        "history of the host (toggle)",
        MAIN,
    ),
    b(
        &[ch('a')],
        "a",
        A::Fleet,
        "fleet",
        "fleet view: release × host matrix",
        MAIN,
    ),
    mutating(b(
        &[ch('s')],
        "s",
        A::FleetSwitch,
        "switch fleet",
        "switch every host that has the selected release to it (type yes for several hosts)",
        Ctxs::of(&[Ctx::Fleet]),
    )),
    b(
        &[ch('/')],
        "/",
        A::Filter,
        "filter",
        "filter releases by name or message",
        MAIN,
    ),
    quiet(b(
        &[k(C::Esc)],
        "Esc",
        A::ClearFilter,
        "clear filter",
        "clear the filter; hide a finished deploy's progress",
        MAIN,
    )),
    hint(
        b(
            &[ch('R'), k(C::F(5))],
            "R F5",
            A::Refresh,
            "refresh",
            "refresh every host now (auto-refresh runs every `refresh`)",
            Ctxs::of(&[Ctx::Hosts, Ctx::Releases, Ctx::Details, Ctx::Fleet]),
        ),
        "R",
    ),
    b(
        &[ch('?')],
        "?",
        A::Help,
        "help",
        "help with every key",
        MAIN,
    ),
    b(
        &[ch('q')],
        "q",
        A::Quit,
        "quit",
        "quit (asks if an operation is in flight)",
        MAIN,
    ),
    quiet(b(
        &[ctrl('c')],
        "Ctrl-C",
        A::Quit,
        "quit",
        "quit, from anywhere",
        EVERYWHERE,
    )),
    // Confirmation dialogs.
    b(
        &[ch('y')],
        "y",
        A::Confirm,
        "run it",
        "run the action shown",
        Ctxs::of(&[Ctx::Dialog]),
    ),
    hint(
        b(
            &[ch('n'), k(C::Esc)],
            "n Esc",
            A::Cancel,
            "cancel",
            "cancel: nothing is done",
            Ctxs::of(&[Ctx::Dialog]),
        ),
        "n/Esc",
    ),
    b(
        &[k(C::Esc)],
        "Esc",
        A::Cancel,
        "cancel",
        "cancel: nothing is done (in the filter: clear it)",
        Ctxs::of(&[Ctx::Typed, Ctx::Form, Ctx::Filter]),
    ),
    quiet(b(
        &[k(C::Tab), k(C::BackTab), k(C::Left), k(C::Right)],
        "Tab ←→",
        A::ToggleButton,
        "button",
        "move between Cancel and Confirm",
        Ctxs::of(&[Ctx::Dialog]),
    )),
    quiet(b(
        &[k(C::Enter)],
        "Enter",
        A::Activate,
        "press",
        "press the focused button (Enter never confirms: press y)",
        Ctxs::of(&[Ctx::Dialog]),
    )),
    // Text input: typed `yes`, prompts, the filter.
    b(
        &[k(C::Enter)],
        "Enter",
        A::Submit,
        "ok",
        "accept the input (a multi-host action runs only once `yes` is typed)",
        Ctxs::of(&[Ctx::Typed, Ctx::Form, Ctx::Filter]),
    ),
    quiet(b(
        &[k(C::Backspace)],
        "Bksp",
        A::Erase,
        "erase",
        "erase a character",
        Ctxs::of(&[Ctx::Typed, Ctx::Form, Ctx::Filter]),
    )),
    b(
        &[k(C::Tab)],
        "Tab",
        A::Complete,
        "complete/next",
        "complete a local path or a canary host, or go to the next field",
        Ctxs::of(&[Ctx::Form]),
    ),
    quiet(b(
        &[k(C::BackTab), k(C::Up)],
        "S-Tab ↑",
        A::PrevField,
        "prev field",
        "previous field",
        Ctxs::of(&[Ctx::Form]),
    )),
    quiet(b(
        &[k(C::Down)],
        "↓",
        A::NextField,
        "next field",
        "next field",
        Ctxs::of(&[Ctx::Form]),
    )),
    hint(
        b(
            &[k(C::Right)],
            "→",
            A::CycleNext,
            "target",
            "next target: this host, each group, all hosts",
            Ctxs::of(&[Ctx::Form]),
        ),
        "←→",
    ),
    quiet(b(
        &[k(C::Left)],
        "←",
        A::CyclePrev,
        "previous target",
        "previous target",
        Ctxs::of(&[Ctx::Form]),
    )),
    // Help, the fleet view and error popups.
    b(
        &[k(C::Esc), ch('q'), ch('?'), ch('a'), k(C::Enter)],
        "Esc q",
        A::Close,
        "close",
        "close this view",
        Ctxs::of(&[Ctx::Help, Ctx::Fleet, Ctx::Error]),
    ),
];

/// The binding of a key in a context, if any.
pub fn lookup(ctx: Ctx, key: Key) -> Option<&'static Binding> {
    BINDINGS
        .iter()
        .find(|b| b.ctx.contains(ctx) && b.keys.contains(&key))
}

/// The footer: bindings valid now (read-only drops the mutating ones).
/// How much a footer hint matters (lower first) when the footer can't show them all:
/// the keys that change hosts, then finding things, then moving about.
pub fn footer_rank(a: Action) -> u8 {
    match a {
        A::Switch | A::FleetSwitch | A::Confirm | A::Cancel | A::Submit | A::Close => 0,
        A::Rollback => 1,
        A::Deploy => 2,
        A::Prune => 3,
        A::NextPane => 4,
        A::Filter => 5,
        A::Pin | A::Accept => 6,
        A::Fleet => 7,
        A::History => 8,
        A::Refresh => 9,
        _ => 10,
    }
}

pub fn hints(ctx: Ctx, readonly: bool) -> impl Iterator<Item = &'static Binding> {
    BINDINGS
        .iter()
        .filter(move |b| b.footer && b.ctx.contains(ctx) && !(readonly && b.mutating))
}

/// The help popup's sections: a title and the bindings of those contexts.
pub fn help_sections() -> Vec<(&'static str, Vec<&'static Binding>)> {
    let sections: [(&str, Ctxs); 5] = [
        ("Main screen", MAIN),
        ("Confirmation dialogs", Ctxs::of(&[Ctx::Dialog])),
        (
            "Typed confirmation (more than one host)",
            Ctxs::of(&[Ctx::Typed]),
        ),
        (
            "Prompts (deploy, pin) and the filter",
            Ctxs::of(&[Ctx::Form, Ctx::Filter]),
        ),
        (
            "Help, fleet view, errors",
            Ctxs::of(&[Ctx::Help, Ctx::Fleet, Ctx::Error]),
        ),
    ];
    let mut out = Vec::new();
    let mut seen: Vec<*const Binding> = Vec::new();
    for (title, set) in sections {
        let rows: Vec<&Binding> = BINDINGS
            .iter()
            .filter(|b| b.ctx.0 & set.0 != 0)
            .filter(|b| !seen.contains(&(*b as *const Binding)))
            .collect();
        seen.extend(rows.iter().map(|b| *b as *const Binding));
        out.push((title, rows));
    }
    out
}

/// "read-only: s (switch) is disabled".
pub fn readonly_message(b: &Binding) -> String {
    format!("read-only: {} ({}) is disabled", b.label, b.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn only_presses_count() {
        let mut ev = press(KeyCode::Char('j'), KeyModifiers::NONE);
        assert!(Key::from_event(&ev).is_some());
        ev.kind = KeyEventKind::Release;
        assert_eq!(Key::from_event(&ev), None);
        ev.kind = KeyEventKind::Repeat;
        assert_eq!(Key::from_event(&ev), None);
    }

    #[test]
    fn shift_tab_and_capitals_normalise() {
        let bt = Key::from_event(&press(KeyCode::Tab, KeyModifiers::SHIFT)).unwrap();
        assert_eq!(bt.code, KeyCode::BackTab);
        let p = Key::from_event(&press(KeyCode::Char('P'), KeyModifiers::SHIFT)).unwrap();
        assert_eq!(lookup(Ctx::Releases, p).unwrap().action, Action::Pin);
        let c = Key::from_event(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)).unwrap();
        assert_eq!(lookup(Ctx::Form, c).unwrap().action, Action::Quit);
        assert_eq!(c.text(), None);
    }

    #[test]
    fn spec_keys_are_bound_on_the_main_screen() {
        let expect = [
            (ch('k'), A::Up),
            (k(C::Up), A::Up),
            (ch('j'), A::Down),
            (k(C::Down), A::Down),
            (k(C::PageUp), A::PageUp),
            (k(C::PageDown), A::PageDown),
            (ch('g'), A::Top),
            (ch('G'), A::Bottom),
            (k(C::Tab), A::NextPane),
            (k(C::BackTab), A::PrevPane),
            (k(C::Enter), A::Details),
            (ch('s'), A::Switch),
            (ch('r'), A::Rollback),
            (ch('d'), A::Deploy),
            (ch('p'), A::Prune),
            (ch('P'), A::Pin),
            (ch('h'), A::History),
            (ch('u'), A::Unlock),
            (ch('c'), A::Check),
            (ch('A'), A::Accept),
            (ch('a'), A::Fleet),
            (ch('/'), A::Filter),
            (ch('R'), A::Refresh),
            (k(C::F(5)), A::Refresh),
            (ch('?'), A::Help),
            (ch('q'), A::Quit),
            (ctrl('c'), A::Quit),
        ];
        for (key, action) in expect {
            assert_eq!(
                lookup(Ctx::Releases, key).map(|b| b.action),
                Some(action),
                "{key:?}"
            );
        }
    }

    #[test]
    fn each_key_means_one_thing_per_context() {
        let all = [
            Ctx::Hosts,
            Ctx::Releases,
            Ctx::Details,
            Ctx::Dialog,
            Ctx::Typed,
            Ctx::Form,
            Ctx::Filter,
            Ctx::Help,
            Ctx::Fleet,
            Ctx::Error,
        ];
        for ctx in all {
            let mut keys: Vec<Key> = Vec::new();
            for b in BINDINGS.iter().filter(|b| b.ctx.contains(ctx)) {
                for key in b.keys {
                    assert!(!keys.contains(key), "{key:?} bound twice in {ctx:?}");
                    keys.push(*key);
                }
            }
            if ctx.is_text() {
                for key in &keys {
                    assert!(key.text().is_none(), "{key:?} would eat text in {ctx:?}");
                }
            }
        }
    }

    #[test]
    fn dialogs_confirm_only_with_y() {
        let enter = lookup(Ctx::Dialog, k(C::Enter)).unwrap();
        assert_ne!(enter.action, A::Confirm);
        assert_eq!(lookup(Ctx::Dialog, ch('y')).unwrap().action, A::Confirm);
        for opener in ["s", "r", "p", "P", "d", "u", "A"] {
            let c = opener.chars().next().unwrap();
            assert!(lookup(Ctx::Dialog, ch(c)).is_none(), "{opener}");
        }
    }

    #[test]
    fn readonly_hides_mutating_hints() {
        let rw: Vec<_> = hints(Ctx::Releases, false).map(|b| b.action).collect();
        let ro: Vec<_> = hints(Ctx::Releases, true).map(|b| b.action).collect();
        assert!(rw.contains(&A::Switch));
        assert!(!ro.contains(&A::Switch));
        assert!(ro.contains(&A::Refresh));
        let s = lookup(Ctx::Releases, ch('s')).unwrap();
        assert_eq!(readonly_message(s), "read-only: s (switch) is disabled");
    }

    #[test]
    fn help_lists_every_binding_once() {
        let n: usize = help_sections().iter().map(|(_, v)| v.len()).sum();
        assert_eq!(n, BINDINGS.len());
    }
}
