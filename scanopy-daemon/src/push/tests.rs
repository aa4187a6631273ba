//! The client's signatures against the listener's check.

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use scanopy_core::protocol::{
    DAEMON_HEADER, MAX_CLOCK_SKEW_SECS, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use uuid::Uuid;

use super::*;

const A: Uuid = Uuid::from_u128(0xa);
const B: Uuid = Uuid::from_u128(0xb);

fn headers(ts: &str, sig: &str, daemon: Uuid) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(TIMESTAMP_HEADER, ts.parse().unwrap());
    h.insert(SIGNATURE_HEADER, sig.parse().unwrap());
    h.insert(DAEMON_HEADER, daemon.to_string().parse().unwrap());
    h
}

#[test]
fn signed_calls_pass_and_anything_else_is_refused() {
    let client = PushClient::new(&generate_key()).unwrap();
    let other = PushClient::new(&generate_key()).unwrap();
    let v = Verifier::new(&client.public_key_base64(), A).unwrap();
    let body = br#"{"x":1}"#;
    let (ts, sig) = client.sign("POST", "/api/v1/jobs", A, body);
    let now: i64 = ts.parse().unwrap();
    assert_eq!(
        v.verify("POST", "/api/v1/jobs", &headers(&ts, &sig, A), body, now),
        Ok(())
    );
    assert_eq!(
        v.verify("POST", "/api/v1/jobs", &headers(&ts, &sig, A), body, now),
        Err("signature replayed")
    );
    let (ts, sig) = client.sign("POST", "/api/v1/jobs", A, body);
    for (path, b, now2, why) in [
        ("/api/v1/jobz", &body[..], now, "bad signature"),
        ("/api/v1/jobs", &b"{}"[..], now, "bad signature"),
        (
            "/api/v1/jobs",
            &body[..],
            now + MAX_CLOCK_SKEW_SECS + 1,
            "timestamp too far from the daemon's clock",
        ),
    ] {
        assert_eq!(
            v.verify("POST", path, &headers(&ts, &sig, A), b, now2),
            Err(why)
        );
    }
    let (ts, sig) = other.sign("POST", "/api/v1/jobs", A, body);
    assert_eq!(
        v.verify("POST", "/api/v1/jobs", &headers(&ts, &sig, A), body, now),
        Err("bad signature")
    );
    assert_eq!(
        v.verify("POST", "/api/v1/jobs", &HeaderMap::new(), body, now),
        Err("missing timestamp header")
    );
    assert!(Verifier::new("not base64!", A).is_err());
    assert!(Verifier::new(&B64.encode([0u8; 16]), A).is_err());
}

/// A call the server signed for daemon A is refused by daemon B, whether it still names A
/// or claims to be for B; and B accepts a call signed for B.
#[test]
fn a_call_signed_for_another_daemon_is_refused() {
    let client = PushClient::new(&generate_key()).unwrap();
    let b = Verifier::new(&client.public_key_base64(), B).unwrap();
    let body = br#"{"job":1}"#;
    let (ts, sig) = client.sign("POST", "/api/v1/jobs", A, body);
    let now: i64 = ts.parse().unwrap();
    assert_eq!(
        b.verify("POST", "/api/v1/jobs", &headers(&ts, &sig, A), body, now),
        Err("the call is signed for another daemon")
    );
    assert_eq!(
        b.verify("POST", "/api/v1/jobs", &headers(&ts, &sig, B), body, now),
        Err("bad signature"),
        "a call signed for A, relabelled for B"
    );
    let mut no_daemon = headers(&ts, &sig, A);
    no_daemon.remove(DAEMON_HEADER);
    assert_eq!(
        b.verify("POST", "/api/v1/jobs", &no_daemon, body, now),
        Err("missing daemon header (the call names no daemon)")
    );
    let (ts, sig) = client.sign("POST", "/api/v1/jobs", B, body);
    assert_eq!(
        b.verify("POST", "/api/v1/jobs", &headers(&ts, &sig, B), body, now),
        Ok(())
    );
}
