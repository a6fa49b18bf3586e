//! `cairn serve`: arguments, and the line that tells a person (or a test) where the
//! server listens.

use std::io::Write;
use std::net::SocketAddr;

use clap::Args;

use super::common::{open_archive, RootArg};
use super::outcome::{error_exit, exit};

#[derive(Args)]
pub(super) struct ServeArgs {
    #[command(flatten)]
    root: RootArg,
    /// The address and port to listen on. The default answers this machine only; put a
    /// reverse proxy in front to publish the archive.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080", value_parser = parse_bind)]
    bind: SocketAddr,
    /// The OAI-PMH base URL harvesters use, when they reach the server through a proxy
    /// [default: http://ADDR:PORT/oai].
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Serve payload files (never those of restricted items), with byte ranges.
    #[arg(long)]
    serve_files: bool,
    /// With accounts (`cairn user`): end a session after this long without a request
    /// (90s, 30m, 2h).
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_idle)]
    session_idle: std::time::Duration,
}

fn parse_idle(s: &str) -> Result<std::time::Duration, String> {
    let d = cairn::units::parse_duration(s)?;
    if d.is_zero() {
        return Err("a session needs some time: give at least 1s".into());
    }
    Ok(d)
}

/// `ADDR:PORT` or `HOST:PORT` (`localhost:8080`): a name is resolved, and its first
/// address (IPv4 first, as `localhost` is usually meant) is the one listened on.
fn parse_bind(s: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let addrs: Vec<SocketAddr> = s
        .to_socket_addrs()
        .map_err(|e| {
            format!(
                "expected HOST:PORT or ADDR:PORT (127.0.0.1:8080, localhost:8080, [::1]:8080): {e}"
            )
        })?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| format!("{s} names no address"))
}

pub(super) fn run_serve(args: ServeArgs) -> u8 {
    let archive = match open_archive(&args.root, "serve") {
        Ok(a) => a,
        Err(code) => return code,
    };
    if let Some(url) = &args.base_url {
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            errln!(
                "cairn: serve: --base-url {}: give an absolute http:// or https:// URL, for example https://archive.example.org/oai",
                cairn::quoted(url)
            );
            return exit::USAGE;
        }
    }
    // Accounts over plain HTTP to other machines: passwords would cross the network in
    // clear. Said, not refused (a TLS proxy on another machine is a real setup).
    let accounts =
        cairn::fs::users::read_users(&archive.root).map_or(true, |f| !f.users.is_empty());
    let https = args
        .base_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    if accounts && !https && !args.bind.ip().is_loopback() {
        errln!(
            "cairn: serve: warning: the archive has accounts and {} answers other machines over plain HTTP, so passwords and session cookies would cross the network in clear; keep the default loopback bind and put a TLS reverse proxy in front (--base-url https://...)",
            args.bind
        );
    }
    let opts = cairn::serve::ServeOptions {
        bind: args.bind,
        base_url: args.base_url,
        serve_files: args.serve_files,
        session_idle: Some(args.session_idle),
    };
    let result = cairn::serve::serve(archive, opts, |addr, base| {
        // Always printed, --quiet or not: it is the one thing a caller needs to know.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}/");
        let _ = writeln!(out, "OAI-PMH base URL: {base}");
        let _ = out.flush();
    });
    match result {
        Ok(()) => exit::OK,
        Err(e) => error_exit("serve", &e),
    }
}
