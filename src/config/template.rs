//! The text of cairn.toml: the template `cairn init` writes, and the one edit Cairn
//! makes to a user's file (setting `archive.name`).

use super::Config;

/// The line (1-based) where `section.key` is set in cairn.toml text: `key = …` under
/// `[section]`, or `section.key = …` before any table header.
pub(super) fn line_of_key(text: &str, dotted: &str) -> Option<usize> {
    let (section, key) = dotted.split_once('.')?;
    let sets = |line: &str, name: &str| {
        line.strip_prefix(name)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    };
    let mut current = "";
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(header) = line.strip_prefix('[') {
            current = header.split(']').next().unwrap_or_default().trim();
        } else if (current == section && sets(line, key))
            || (current.is_empty() && sets(line, dotted))
        {
            return Some(i + 1);
        }
    }
    None
}

/// `text` (cairn.toml) with `archive.name` set to `name`: its line replaced where it is
/// set, else added under `[archive]` (or in a new `[archive]` table at the end); every
/// other line kept as it is. `None` when the result would not read back with that name
/// (a layout this edit does not understand): the caller asks for a hand edit.
pub fn with_archive_name(text: &str, name: &str) -> Option<String> {
    let value = toml::Value::String(name.to_string()).to_string();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if let Some(n) = line_of_key(text, "archive.name") {
        let old = &lines[n - 1];
        let key = if old.trim_start().starts_with("archive.") {
            "archive.name"
        } else {
            "name"
        };
        lines[n - 1] = format!("{key} = {value}");
    } else if let Some(i) = lines.iter().position(|l| l.trim() == "[archive]") {
        lines.insert(i + 1, format!("name = {value}"));
    } else {
        lines.push(String::new());
        lines.push("[archive]".into());
        lines.push(format!("name = {value}"));
    }
    let mut out = lines.join("\n");
    out.push('\n');
    let parsed: Config = toml::from_str(&out).ok()?;
    (parsed.archive.name == name).then_some(out)
}

/// A folder's name made into an archive name (no spaces or '+', which a checkpoint's
/// origin line and a key's name cannot hold: each becomes '-'); `cairn-archive` for a
/// folder without a name.
pub fn name_from_folder(folder: &str) -> String {
    let name: String = folder
        .chars()
        .map(|c| {
            if c.is_whitespace() || c == '+' {
                '-'
            } else {
                c
            }
        })
        .collect();
    if name.is_empty() {
        "cairn-archive".into()
    } else {
        name
    }
}

pub(super) const TEMPLATE: &str = r#"# Cairn configuration. Every setting is shown with its default value.
# Paths are relative to the folder holding this file.
#
# Precedence, highest first: a command's flag (where one exists), the setting's
# environment variable (CAIRN_SECTION_KEY, named above each setting), this file, the
# default. A variable is read as if written here: paths relative to this folder,
# lists comma-separated (CAIRN_INGEST_ALGORITHMS=blake3,sha256). `cairn config` shows
# the settings in force and where each comes from. Not settings of this file:
# CAIRN_ROOT (--root, the archive's folder), CAIRN_LOG_FORMAT (--log-format text|json)
# and CAIRN_QUIET (--quiet).

[archive]
# The drop folder: each folder directly under it is one item, a lone file is an item
# of one file, and metadata.csv describes them.
# CAIRN_ARCHIVE_INTAKE; `cairn ingest --intake DIR` overrides it for one run.
intake = "intake"
# The bags, one folder per item, named by the item's identifier.
# CAIRN_ARCHIVE_ARCHIVE
archive = "archive"
# The register (one ID.json per item, written once) and the event log (events.jsonl).
# CAIRN_ARCHIVE_MANIFESTS
manifests = "manifests"
# The archive's name: the origin line of its signed checkpoints and the name of its
# signing key (docs/auditing.md). Use something stable and unique, such as
# "archive.example.org/s21"; no spaces or '+'. `cairn init` writes the folder's
# name here: keep it fixed once checkpoints are signed (a restored or moved archive
# keeps its name). Empty: set by the first `cairn key generate` or `cairn checkpoint`.
# CAIRN_ARCHIVE_NAME
name = ""
# The private key `cairn checkpoint` signs with when no --key is given (made by
# `cairn key generate --out FILE`; keep it readable by its owner only).
# CAIRN_ARCHIVE_CHECKPOINT_KEY
checkpoint_key = ""
# Write a signed checkpoint of the event log into manifests/checkpoints/ after each
# ingest and fixity run (needs checkpoint_key).
# CAIRN_ARCHIVE_CHECKPOINT_ON_WRITE
checkpoint_on_write = false
# Copy each item to every [[replica]] right after ingest or import commits it (as
# `cairn replicate --id ID` would); a failed copy is reported, exit 3.
# CAIRN_ARCHIVE_REPLICATE_ON_INGEST
replicate_on_ingest = false

[ingest]
# Checksum algorithms for new bags: blake3, sha256, sha512. BLAKE3 is Cairn's fast
# check; SHA-512 is the one every other BagIt tool can verify.
# CAIRN_INGEST_ALGORITHMS
algorithms = ["blake3", "sha512"]
# Identifiers for items whose metadata gives no dc.identifier: this prefix and a
# six-digit number, never reused (for example cairn-000001).
# CAIRN_INGEST_IDENTIFIER_PREFIX
identifier_prefix = "cairn-"
# Written as Source-Organization in each bag's bag-info.txt (left out when empty).
# CAIRN_INGEST_SOURCE_ORGANIZATION
source_organization = ""
# The collection, written as Bag-Group-Identifier in each bag-info.txt (left out when
# empty).
# CAIRN_INGEST_COLLECTION
collection = ""
# Files left out of every item, and names at the top of intake that are not items:
# what operating systems and office programs leave behind. An exact name, a prefix
# ending in `*`, or a suffix after a leading `*` ("*.tmp"); case is ignored. Each
# excluded file is named in the ingest report and in the item's ingestion event.
# CAIRN_INGEST_EXCLUDE
exclude = ["Thumbs.db", "desktop.ini", ".DS_Store", "._*", "~$*"]
# The largest metadata value (one dc.title, one dc.description...) that ingest and
# import accept; a larger one refuses the item, naming the term and the size (K, M:
# powers of 1024).
# CAIRN_INGEST_MAX_VALUE_SIZE
max_value_size = "64K"

[fixity]
# Days between two fixity checks of the same bag (cairn fixity --due).
# CAIRN_FIXITY_INTERVAL_DAYS
interval_days = 90
# The algorithm routine fixity runs check: blake3, sha256, sha512 (or, for old bags,
# md5, sha1, sha224, sha384).
# CAIRN_FIXITY_ALGORITHM; `cairn fixity --algorithms LIST|all` overrides it.
algorithm = "blake3"
# The most bytes per second fixity reads, so that production storage is not starved
# (K, M, G, T: powers of 1024; for example "200M"). Empty: no limit.
# CAIRN_FIXITY_RATE; `cairn fixity --rate` overrides it.
rate = ""

[zip]
# Limits for zip files Cairn reads (cairn import, cairn bag validate X.zip). An entry
# over a limit is refused as a zip bomb, as is one that inflates past the size its
# header declares. Sizes take K, M, G, T (powers of 1024).
# The largest uncompressed size of one entry.
# CAIRN_ZIP_MAX_ENTRY_SIZE
max_entry_size = "1T"
# The largest uncompressed size of all entries together.
# CAIRN_ZIP_MAX_TOTAL_SIZE
max_total_size = "8T"
# The largest compression ratio (uncompressed / compressed) of an entry over 1 MiB.
# CAIRN_ZIP_MAX_RATIO
max_ratio = 1000
# The most entries one zip may have.
# CAIRN_ZIP_MAX_ENTRIES
max_entries = 10000000

[formats]
# Format identification at ingest and import: every payload file's PRONOM format
# (PUID, name, version, MIME type and the basis of the match) and technical metadata
# (TIFF, JPEG, JPEG 2000, PNG, PDF headers) go into its register entry, with one
# "format identification" event per item. "on" or "off".
# CAIRN_FORMATS_IDENTIFY
identify = "on"
# The format policy applied at ingest, each entry "KEY: reason". KEY is a PUID
# (fmt/353), a MIME type (image/jpeg), or one of: encrypted (an encrypted PDF), damaged
# (a file whose headers show damage: a truncated TIFF, a JPEG without its end marker,
# a PDF without its trailer), unidentified (no format found). The reason is printed.
# refuse: an item holding such a file is refused. warn: it is ingested with the
# warning. accept: when not empty, only these formats are accepted and any other is
# refused. Refuse wins over warn, warn over accept. For example:
#   refuse = ["encrypted: an encrypted PDF cannot be read or migrated"]
#   warn = ["fmt/43: lossy JPEG is not a master format; keep the TIFF"]
# In the variables, entries are comma-separated (so a reason there has no comma).
# CAIRN_FORMATS_ACCEPT
accept = []
# CAIRN_FORMATS_WARN
warn = []
# CAIRN_FORMATS_REFUSE
refuse = []

[qc]
# The digitisation profile masters are judged by (docs/scan-qc.md): `cairn qc` uses
# it, and ingest and revise apply it. A preset: "fadgi-3-star-text",
# "fadgi-4-star-text", "metamorfoze-light"; or the name of a profile of your own,
# a [qc.profiles.NAME] table that may start from a preset and set any rule:
#   [qc.profiles.vendor]
#   preset = "fadgi-3-star-text"
#   min_ppi = 400                      # pixels per inch, both directions
#   bit_depths = [8, 16]               # bits per sample allowed
#   colour = ["grey", "rgb"]           # bilevel grey rgb palette cmyk ycbcr lab
#   icc = "required"                   # or "any"
#   compressions = ["none", "lzw"]     # none lzw deflate packbits ccitt jpeg ...
#   max_width = 20000                  # pixels
#   max_height = 20000
#   validation = "valid"               # or "well-formed", "none"
#   on_fail = { icc = "warn" }         # each rule "refuse" (the default) or "warn"
# Empty: no profile (a file that is not well-formed or not valid still fails).
# CAIRN_QC_PROFILE; `cairn qc --profile NAME` overrides it for one run.
profile = ""

[profiles]
# The BagIt Profile every `cairn export` meets (docs/profiles.md): a shipped one
# ("aptrust", "btr", "bagit-profiles-foo", "bagit-profiles-bar") or a .json file,
# relative to the archive root. Empty: exports are the archived bags as they are.
# CAIRN_PROFILES_EXPORT; `cairn export --profile` overrides it for one run.
export = ""

[serve]
# `cairn serve`: the read-only web view and OAI-PMH 2.0 endpoint (/oai).
# The repositoryName harvesters show (OAI-PMH Identify).
# CAIRN_SERVE_REPOSITORY_NAME
repository_name = "Cairn archive"
# The repository identifier in every OAI identifier, oai:IDENTIFIER:ITEM-ID: a domain
# name you control (letters, digits, '-', in dot-separated labels).
# CAIRN_SERVE_REPOSITORY_IDENTIFIER
repository_identifier = "cairn.invalid"
# The address harvesters write to about the repository (OAI-PMH adminEmail).
# CAIRN_SERVE_ADMIN_EMAIL
admin_email = "archivist@cairn.invalid"
# Records per OAI-PMH list response; longer lists continue with a resumption token.
# CAIRN_SERVE_PAGE_SIZE
page_size = 100
# Seconds a connection may take to send a request's headers, counted from when it
# opened or its last response ended: half-sent headers and idle keep-alive
# connections are closed after it.
# CAIRN_SERVE_HEADER_TIMEOUT_SECS
header_timeout_secs = 10
# Connections open at once from one address; more are closed at once. Behind a
# reverse proxy every reader comes from the proxy's address: raise it there. It is
# always kept below what the process's file limit (ulimit -n) allows.
# CAIRN_SERVE_MAX_CONNECTIONS_PER_ADDRESS
max_connections_per_address = 64
# Whether restricted items' pages show their files' digests (a digest confirms a
# guess of a short file's content).
# CAIRN_SERVE_RESTRICTED_DIGESTS
restricted_digests = false

# Replicas: copies of the archive on another disk or an S3-compatible object store,
# one [[replica]] table each (docs/replicas.md). `cairn replicate` fills them,
# `cairn fixity --replica NAME` checks them, `cairn repair` and `cairn restore` read
# them. CAIRN_REPLICA_<NAME>_URL, _ENDPOINT and _REGION override a replica's settings;
# its credentials come from CAIRN_REPLICA_<NAME>_ACCESS_KEY_ID and
# _SECRET_ACCESS_KEY, else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (never this
# file). For example:
#   [[replica]]
#   name = "nas"
#   url = "file:///srv/cairn-replica"
#
#   [[replica]]
#   name = "offsite"
#   url = "s3://cairn-archive/s21"
#   endpoint = "http://127.0.0.1:3900"
#   region = "garage"
"#;
