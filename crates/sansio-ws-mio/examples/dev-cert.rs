//! Makes certificates for trying `wss://` locally: a certificate authority of its own (`ca.pem`,
//! to be trusted by clients) and a server certificate it signs (`cert.pem`, `key.pem`) for
//! `localhost`, `127.0.0.1` and `::1`, or the names given.
//!
//! `cargo run -p sansio-ws-mio --example dev-cert -- DIR [NAME…]` (or `scripts/dev-cert.sh`)
//!
//! It prints the paths and the SHA-256 of the server key's SubjectPublicKeyInfo, which Chromium
//! trusts with `--ignore-certificate-errors-spki-list=HASH`. For testing only: the CA's key is not
//! kept, so nothing more can be signed with it, and nothing here is fit for a real deployment.

// An example program talks to its user on the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::path::PathBuf;

#[path = "shared/certs.rs"]
mod certs;

/// Certificates for local wss:// testing.
#[derive(clap::Parser, Debug)]
#[command(name = "dev-cert")]
struct Options {
    /// Where to write ca.pem, cert.pem and key.pem (made if missing)
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// The names the server certificate is for [default: localhost 127.0.0.1 ::1]
    #[arg(value_name = "NAME")]
    names: Vec<String>,
}

fn main() {
    let options = <Options as clap::Parser>::parse();
    if let Err(e) = make(&options) {
        eprintln!("dev-cert: {e}");
        std::process::exit(1);
    }
}

fn make(options: &Options) -> Result<(), String> {
    let names: Vec<&str> = if options.names.is_empty() {
        vec!["localhost", "127.0.0.1", "::1"]
    } else {
        options.names.iter().map(String::as_str).collect()
    };
    let ca = certs::TestCa::new("sansio-ws development CA").map_err(|e| format!("cannot make the CA: {e}"))?;
    let leaf = ca.leaf(&names).map_err(|e| format!("cannot make the certificate for {names:?}: {e}"))?;
    std::fs::create_dir_all(&options.dir).map_err(|e| format!("cannot create {}: {e}", options.dir.display()))?;
    for (file, text) in [("ca.pem", &ca.pem), ("cert.pem", &leaf.cert_pem), ("key.pem", &leaf.key_pem)] {
        let path = options.dir.join(file);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("{}", path.display());
    }
    println!("spki-sha256 {}", leaf.spki_sha256);
    eprintln!(
        "dev-cert: a CA and a certificate for {} in {}; trust ca.pem in clients (e.g. --ca), serve with \
         --tls-cert cert.pem --tls-key key.pem",
        names.join(", "),
        options.dir.display()
    );
    Ok(())
}
