//! The Postfix policy delegation protocol (`check_policy_service`): the recipient check at SMTP
//! time.
//!
//! Postfix sends `name=value` lines ended by an empty line, and reads back `action=...` and an
//! empty line; the connection stays open for the next request. For `recipient=x@y` the answer
//! is `DUNNO` (no opinion: Postfix goes on with its other rules) when the address is accepted or
//! its domain is not managed, and `REJECT 5.1.1 ...` when the domain is managed and the address
//! is unknown. A domain whose checking is turned off answers `DUNNO` for every address.
//!
//! The decision is the HTTP recipient check's, over every tenant, read from the store; redb
//! serves it from its page cache in microseconds, and because every read is a snapshot of the
//! last commit the answer always matches the directory that is in effect, with no second index
//! to keep in step.
//!
//! A request that breaks the protocol (a line over the limit, too many attributes, bytes that
//! are not text) ends the connection without an answer, which Postfix treats as a temporary
//! failure; a storage error answers `DEFER_IF_PERMIT`. Neither ever accepts or rejects wrongly.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::routes::recipients::{Verdict, verdict};
use crate::store::Store;

/// The longest attribute line read, in bytes (Postfix's own attributes are far shorter).
pub const MAX_LINE_BYTES: usize = 8192;
/// The most attributes one request may carry.
pub const MAX_ATTRIBUTES: usize = 256;
/// How long a connection may stay silent before it is closed (Postfix closes idle policy
/// connections itself after `smtpd_policy_service_max_idle`, 300 s by default).
const IDLE: Duration = Duration::from_secs(600);

/// The default text after `REJECT`; `{recipient}` is replaced by the address.
pub const DEFAULT_REJECT_TEXT: &str = "5.1.1 <{recipient}>: Recipient address rejected: user unknown";

/// How the policy service answers.
#[derive(Clone, Debug)]
pub struct PolicyConfig {
    /// The text after `REJECT`, with `{recipient}` for the address.
    pub reject_text: String,
}

impl Default for PolicyConfig {
    fn default() -> PolicyConfig {
        PolicyConfig { reject_text: DEFAULT_REJECT_TEXT.to_owned() }
    }
}

/// What one request asks, once read.
#[derive(Debug, PartialEq, Eq)]
pub enum Question {
    /// Nothing for us to decide (another protocol state, no recipient, not a policy request).
    NoOpinion,
    /// Is this recipient accepted?
    Recipient(String),
}

/// Reads the question out of a request's attributes.
pub fn question(attributes: &HashMap<String, String>) -> Question {
    if attributes.get("request").is_some_and(|r| r != "smtpd_access_policy") {
        return Question::NoOpinion;
    }
    // The check belongs to RCPT TO; at other stages (DATA, END-OF-MESSAGE) Postfix repeats the
    // last recipient, which was already decided.
    if attributes.get("protocol_state").is_some_and(|s| !s.eq_ignore_ascii_case("RCPT")) {
        return Question::NoOpinion;
    }
    match attributes.get("recipient") {
        Some(r) if !r.trim().is_empty() => Question::Recipient(r.trim().to_owned()),
        _ => Question::NoOpinion,
    }
}

/// The `action=` line for a recipient, given the store. An address that is not a valid address
/// at all is left to Postfix, which has its own syntax checks.
pub fn decide(store: &Store, config: &PolicyConfig, recipient: &str) -> String {
    let Ok(address) = dirgate_core::address::parse_address(recipient) else { return "DUNNO".to_owned() };
    match store.lookup(address.domain(), &address.key) {
        Ok(lookup) => match verdict(&lookup, None) {
            Verdict::Accepted | Verdict::NotManaged => "DUNNO".to_owned(),
            Verdict::Rejected => {
                // The address goes back into the answer: keep it to one printable line.
                let printable: String = recipient.chars().filter(|c| !c.is_control()).collect();
                format!("REJECT {}", config.reject_text.replace("{recipient}", &printable))
            }
        },
        Err(e) => {
            eprintln!("dirgate policy: lookup failed: {e}");
            "DEFER_IF_PERMIT Service temporarily unavailable".to_owned()
        }
    }
}

/// Why a connection was ended without an answer.
#[derive(Debug)]
enum Broken {
    Closed,
    LineTooLong,
    TooManyAttributes,
    NotText,
    Idle,
}

/// Reads one `\n`-ended line of at most [`MAX_LINE_BYTES`] into `line` (without the newline).
async fn read_line(reader: &mut BufReader<TcpStream>, line: &mut Vec<u8>) -> Result<(), Broken> {
    line.clear();
    loop {
        let buffer = match tokio::time::timeout(IDLE, reader.fill_buf()).await {
            Err(_) => return Err(Broken::Idle),
            Ok(Err(_)) => return Err(Broken::Closed),
            Ok(Ok(b)) => b,
        };
        if buffer.is_empty() {
            return Err(Broken::Closed);
        }
        let (taken, done) = match buffer.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buffer.len(), false),
        };
        if line.len() + taken > MAX_LINE_BYTES + 1 {
            return Err(Broken::LineTooLong);
        }
        line.extend_from_slice(&buffer[..taken]);
        reader.consume(taken);
        if done {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(());
        }
    }
}

/// Reads one request: attributes up to the empty line.
async fn read_request(reader: &mut BufReader<TcpStream>) -> Result<HashMap<String, String>, Broken> {
    let mut attributes = HashMap::new();
    let mut line = Vec::with_capacity(128);
    let mut count = 0;
    loop {
        read_line(reader, &mut line).await?;
        if line.is_empty() {
            return Ok(attributes);
        }
        count += 1;
        if count > MAX_ATTRIBUTES {
            return Err(Broken::TooManyAttributes);
        }
        let text = std::str::from_utf8(&line).map_err(|_| Broken::NotText)?;
        // A line without `=` carries nothing; the protocol has no other kind of line.
        if let Some((name, value)) = text.split_once('=') {
            attributes.insert(name.to_owned(), value.to_owned());
        }
    }
}

async fn connection(stream: TcpStream, peer: SocketAddr, store: Store, config: std::sync::Arc<PolicyConfig>) {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::with_capacity(MAX_LINE_BYTES, stream);
    loop {
        let attributes = match read_request(&mut reader).await {
            Ok(a) => a,
            Err(Broken::Closed | Broken::Idle) => return,
            Err(broken) => {
                eprintln!("dirgate policy: closing the connection from {peer}: {broken:?}");
                return;
            }
        };
        let action = match question(&attributes) {
            Question::NoOpinion => "DUNNO".to_owned(),
            Question::Recipient(recipient) => {
                let (store, config) = (store.clone(), config.clone());
                match tokio::task::spawn_blocking(move || decide(&store, &config, &recipient)).await {
                    Ok(action) => action,
                    Err(_) => "DEFER_IF_PERMIT Service temporarily unavailable".to_owned(),
                }
            }
        };
        let answer = format!("action={action}\n\n");
        if reader.get_mut().write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Serves the policy protocol on `listener` until `shutdown` turns true.
pub async fn serve(listener: TcpListener, store: Store, config: PolicyConfig, mut shutdown: watch::Receiver<bool>) {
    let config = std::sync::Arc::new(config);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(connection(stream, peer, store.clone(), config.clone()));
                }
                Err(e) => {
                    eprintln!("dirgate policy: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn asks_only_about_recipients_at_rcpt_time() {
        let rcpt = [("request", "smtpd_access_policy"), ("protocol_state", "RCPT"), ("recipient", "a@example.com")];
        assert_eq!(question(&attrs(&rcpt)), Question::Recipient("a@example.com".into()));
        assert_eq!(question(&attrs(&[("recipient", " a@example.com ")])), Question::Recipient("a@example.com".into()));
        let data = [("request", "smtpd_access_policy"), ("protocol_state", "DATA"), ("recipient", "a@example.com")];
        assert_eq!(question(&attrs(&data)), Question::NoOpinion);
        assert_eq!(question(&attrs(&[("request", "junk"), ("recipient", "a@example.com")])), Question::NoOpinion);
        assert_eq!(question(&attrs(&[("request", "smtpd_access_policy"), ("recipient", "")])), Question::NoOpinion);
        assert_eq!(question(&attrs(&[("sender", "x@y.example")])), Question::NoOpinion);
    }
}
