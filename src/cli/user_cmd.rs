//! `cairn user add|passwd|remove|list`: the accounts of `cairn serve` (users.json
//! beside cairn.toml; docs in SECURITY.md). Passwords are read from the terminal with
//! echo off (asked twice), or as the first line of standard input when it is not a
//! terminal; never from the command line, where other users of the machine see it.

use std::io::{BufRead, IsTerminal, Write};

use clap::{Args, Subcommand};

use cairn::ops::users::{self, Role};

use super::common::{open_archive, say, RootArg};
use super::outcome::{error_exit, exit};

#[derive(Subcommand)]
pub(super) enum UserCommand {
    /// Add an account. The password is asked for (or read from standard input).
    #[command(after_help = super::common::EXIT_CODES_HELP)]
    Add(UserAddArgs),
    /// Set an account's password (and, with --role, its role). Its open sessions end.
    #[command(after_help = super::common::EXIT_CODES_HELP)]
    Passwd(UserPasswdArgs),
    /// Remove an account. Its open sessions end.
    #[command(after_help = super::common::EXIT_CODES_HELP)]
    Remove(UserNameArgs),
    /// List the accounts and their roles.
    #[command(after_help = super::common::EXIT_CODES_HELP)]
    List(UserListArgs),
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(super) enum RoleArg {
    /// The public web view.
    Reader,
    /// Also the event log and audit pages.
    Auditor,
    /// Also amend and withdraw items.
    Archivist,
    /// Also manage accounts.
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Reader => Role::Reader,
            RoleArg::Auditor => Role::Auditor,
            RoleArg::Archivist => Role::Archivist,
            RoleArg::Admin => Role::Admin,
        }
    }
}

#[derive(Args)]
pub(super) struct UserAddArgs {
    #[command(flatten)]
    root: RootArg,
    /// The account name (ASCII letters, digits, '.', '_', '-'); it names the person as
    /// the agent of what they do.
    name: String,
    #[arg(long, value_enum)]
    role: RoleArg,
}

#[derive(Args)]
pub(super) struct UserPasswdArgs {
    #[command(flatten)]
    root: RootArg,
    name: String,
    /// Also change the account's role.
    #[arg(long, value_enum)]
    role: Option<RoleArg>,
}

#[derive(Args)]
pub(super) struct UserNameArgs {
    #[command(flatten)]
    root: RootArg,
    name: String,
}

#[derive(Args)]
pub(super) struct UserListArgs {
    #[command(flatten)]
    root: RootArg,
}

pub(super) fn run_user(cmd: UserCommand) -> u8 {
    match cmd {
        UserCommand::Add(a) => in_archive(&a.root, "user add", |root| {
            let pw = read_password(&a.name)?;
            users::add_user(root, &a.name, a.role.into(), &pw)?;
            say!("added {} ({})", a.name, Role::from(a.role).name());
            Ok(())
        }),
        UserCommand::Passwd(a) => in_archive(&a.root, "user passwd", |root| {
            let pw = read_password(&a.name)?;
            users::set_password(root, &a.name, &pw, a.role.map(Role::from))?;
            say!(
                "changed the password of {}; its sessions have ended",
                a.name
            );
            Ok(())
        }),
        UserCommand::Remove(a) => in_archive(&a.root, "user remove", |root| {
            users::remove_user(root, &a.name)?;
            say!("removed {}; its sessions have ended", a.name);
            Ok(())
        }),
        UserCommand::List(a) => in_archive(&a.root, "user list", |root| {
            for u in users::list_users(root)? {
                outln!("{}\t{}\tpassword set {}", u.name, u.role, u.changed);
            }
            Ok(())
        }),
    }
}

/// Runs `f` on the root of the archive `root` names; its error as the exit code.
fn in_archive(
    root: &RootArg,
    context: &str,
    f: impl FnOnce(&std::path::Path) -> Result<(), cairn::Error>,
) -> u8 {
    let archive = match open_archive(root, context) {
        Ok(a) => a,
        Err(code) => return code,
    };
    match f(&archive.root) {
        Ok(()) => exit::OK,
        Err(e) => error_exit(context, &e),
    }
}

/// The new password: asked twice on a terminal (echo off), else the first line of
/// standard input.
fn read_password(name: &str) -> Result<String, cairn::Error> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| cairn::Error::io("read the password from", "standard input", e))?;
        let pw = line.strip_suffix('\n').unwrap_or(&line);
        let pw = pw.strip_suffix('\r').unwrap_or(pw);
        return Ok(pw.to_string());
    }
    let first = prompt_hidden(&format!("New password for {name}: "))?;
    let second = prompt_hidden("The same password again: ")?;
    if first != second {
        return Err(cairn::Error::Usage(
            "the two passwords differ; nothing was changed".into(),
        ));
    }
    Ok(first)
}

/// Reads one line from the terminal with echo off (restored afterwards).
fn prompt_hidden(prompt: &str) -> Result<String, cairn::Error> {
    let mut err = std::io::stderr();
    let _ = write!(err, "{prompt}");
    let _ = err.flush();
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain old data, filled by tcgetattr before any use.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is this process's standard input; `old` is a valid termios.
    let have = unsafe { libc::tcgetattr(fd, &mut old) } == 0;
    if have {
        let mut quiet = old;
        quiet.c_lflag &= !libc::ECHO;
        quiet.c_lflag |= libc::ECHONL;
        // SAFETY: as above, with a termios derived from the one read.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if have {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &old) };
    }
    read.map_err(|e| cairn::Error::io("read the password from", "the terminal", e))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
