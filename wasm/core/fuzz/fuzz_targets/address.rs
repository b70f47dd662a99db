#![no_main]
//! The address parser: `parse_address` must be exactly its general rules, whichever path (the
//! one-pass common path or the full one) answered, and what it accepts must obey the length and
//! label rules and normalise to itself.
//!
//! The general rules are reached through the public API: an ACE domain never takes the common
//! path, so `local@xn--bcher-kva.example` judges the local part by the full rules, and
//! `normalise_domain` is the full domain path. The verdict on `local@domain` must follow from
//! those two verdicts and the total length alone.

use dirgate_core::address::{
    AddressError, MAX_ADDRESS_BYTES, MAX_LABEL_BYTES, MAX_LOCAL_BYTES, domain_of, key_of, normalise_domain,
    parse_address,
};
use libfuzzer_sys::fuzz_target;

/// A valid IDN domain, already an A-label: `bücher.example`.
const ACE_DOMAIN: &str = "xn--bcher-kva.example";

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let parsed = parse_address(&raw);
    // A quoted local part never takes the common path; any other splits at the last `@`.
    if let Some(at) = raw.rfind('@').filter(|_| !raw.starts_with('"')) {
        let (local, domain) = (&raw[..at], &raw[at + 1..]);
        let local_verdict = parse_address(&format!("{local}@{ACE_DOMAIN}"));
        let domain_verdict = normalise_domain(domain);
        match (&local_verdict, &domain_verdict) {
            (Err(e), _) => assert_eq!(parsed.as_ref(), Err(e), "the local part decides first: {raw:?}"),
            (Ok(_), Err(e)) => assert_eq!(parsed.as_ref(), Err(e), "then the domain: {raw:?}"),
            (Ok(l), Ok(d)) => {
                let expected = format!("{local}@{d}");
                if expected.len() > MAX_ADDRESS_BYTES {
                    assert_eq!(parsed, Err(AddressError::TooLong(expected.len())), "then the length: {raw:?}");
                } else {
                    let a = parsed.as_ref().unwrap_or_else(|e| panic!("{raw:?} meets every rule but got {e}"));
                    assert_eq!(a.address, expected, "{raw:?}");
                    assert_eq!(a.non_ascii_local, l.non_ascii_local, "{raw:?}");
                }
                // Domains compare case-insensitively, and their normal form is a fixed point.
                assert_eq!(normalise_domain(&domain.to_ascii_uppercase()).as_ref(), Ok(d), "{domain:?}");
                assert_eq!(normalise_domain(d).as_ref(), Ok(d), "{domain:?}");
            }
        }
    }
    let Ok(a) = parsed else { return };
    assert_eq!(parse_address(&a.address).as_ref(), Ok(&a), "the stored form re-normalises to itself");
    assert_eq!(a.key, key_of(&a.address));
    assert_eq!(a.domain(), domain_of(&a.address));
    let domain = a.domain();
    let local = &a.address[..a.address.len() - domain.len() - 1];
    assert!(raw.starts_with(local), "the local part keeps its spelling: {raw:?} -> {a:?}");
    assert!(a.address.len() <= MAX_ADDRESS_BYTES, "{a:?}");
    assert!(!local.is_empty() && local.len() <= MAX_LOCAL_BYTES, "{a:?}");
    assert_eq!(a.non_ascii_local, !local.is_ascii(), "{a:?}");
    let labels: Vec<&str> = domain.split('.').collect();
    assert!(labels.len() >= 2, "{a:?}");
    for label in &labels {
        assert!((1..=MAX_LABEL_BYTES).contains(&label.len()), "{a:?}");
        assert!(label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{a:?}");
        assert!(!label.starts_with('-') && !label.ends_with('-'), "{a:?}");
    }
    assert!(!labels[labels.len() - 1].bytes().all(|b| b.is_ascii_digit()), "{a:?}");
    if local.is_ascii() {
        // An ASCII local part compares case-insensitively: any spelling has the same key.
        let upper = parse_address(&format!("{}@{domain}", local.to_ascii_uppercase()));
        assert_eq!(upper.map(|u| u.key), Ok(a.key.clone()), "{a:?}");
    }
});
