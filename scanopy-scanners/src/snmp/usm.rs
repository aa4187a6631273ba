//! SNMPv3 messages with the user-based security model: RFC 3412 (the message), RFC 3414 (USM:
//! keys from passwords, HMAC authentication, discovery), RFC 3826 (AES-128 privacy) and RFC 7860
//! (the SHA-2 authentication protocols).
//!
//! Pure functions: a request in, bytes out; bytes in, a checked [`Incoming`] or a reason. What a
//! session does with them (discovery, the time window, retries) is in [`super::walk`].

use std::fmt;

use aes::Aes128;
use aes::cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
use hmac::{Mac, SimpleHmac};
use sha2::Digest;

use super::ber::{self, BerError, Oid, tag};
use super::pdu::{self, Response};

/// An authentication protocol (the hash of its keys and its HMAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthProtocol {
    /// HMAC-MD5-96 (RFC 3414): old, still common.
    Md5,
    /// HMAC-SHA-96 (RFC 3414).
    Sha1,
    /// HMAC-SHA-224 truncated to 128 bits (RFC 7860).
    Sha224,
    /// HMAC-SHA-256 truncated to 192 bits (RFC 7860).
    Sha256,
    /// HMAC-SHA-384 truncated to 256 bits (RFC 7860).
    Sha384,
    /// HMAC-SHA-512 truncated to 384 bits (RFC 7860).
    Sha512,
}

macro_rules! with_hash {
    ($p:expr, $h:ident => $body:expr) => {
        match $p {
            AuthProtocol::Md5 => {
                type $h = md5::Md5;
                $body
            }
            AuthProtocol::Sha1 => {
                type $h = sha1::Sha1;
                $body
            }
            AuthProtocol::Sha224 => {
                type $h = sha2::Sha224;
                $body
            }
            AuthProtocol::Sha256 => {
                type $h = sha2::Sha256;
                $body
            }
            AuthProtocol::Sha384 => {
                type $h = sha2::Sha384;
                $body
            }
            AuthProtocol::Sha512 => {
                type $h = sha2::Sha512;
                $body
            }
        }
    };
}

impl AuthProtocol {
    /// The protocol named as net-snmp's `-a` takes it (`MD5`, `SHA`, `SHA-256`…), any case,
    /// with or without the dash.
    pub fn parse(s: &str) -> Option<AuthProtocol> {
        let s = s.to_ascii_lowercase().replace('-', "");
        Some(match s.as_str() {
            "md5" => AuthProtocol::Md5,
            "sha" | "sha1" => AuthProtocol::Sha1,
            "sha224" => AuthProtocol::Sha224,
            "sha256" => AuthProtocol::Sha256,
            "sha384" => AuthProtocol::Sha384,
            "sha512" => AuthProtocol::Sha512,
            _ => return None,
        })
    }

    /// Its name as net-snmp spells it.
    pub fn name(self) -> &'static str {
        match self {
            AuthProtocol::Md5 => "MD5",
            AuthProtocol::Sha1 => "SHA",
            AuthProtocol::Sha224 => "SHA-224",
            AuthProtocol::Sha256 => "SHA-256",
            AuthProtocol::Sha384 => "SHA-384",
            AuthProtocol::Sha512 => "SHA-512",
        }
    }

    /// The length of msgAuthenticationParameters (the truncated HMAC).
    pub fn mac_len(self) -> usize {
        match self {
            AuthProtocol::Md5 | AuthProtocol::Sha1 => 12,
            AuthProtocol::Sha224 => 16,
            AuthProtocol::Sha256 => 24,
            AuthProtocol::Sha384 => 32,
            AuthProtocol::Sha512 => 48,
        }
    }

    /// The user's key from a password (RFC 3414 A.2.1: the password repeated to 1 MiB, hashed).
    pub fn password_key(self, password: &[u8]) -> Vec<u8> {
        with_hash!(self, H => {
            let mut h = H::new();
            if !password.is_empty() {
                let mut chunk = [0u8; 64];
                let mut at = 0usize;
                for _ in 0..(1_048_576 / 64) {
                    for c in chunk.iter_mut() {
                        *c = password[at % password.len()];
                        at += 1;
                    }
                    h.update(chunk);
                }
            }
            h.finalize().to_vec()
        })
    }

    /// A key localised to an engine (RFC 3414 A.2.2: `H(Ku || engineID || Ku)`).
    pub fn localize(self, key: &[u8], engine_id: &[u8]) -> Vec<u8> {
        with_hash!(self, H => {
            let mut h = H::new();
            h.update(key);
            h.update(engine_id);
            h.update(key);
            h.finalize().to_vec()
        })
    }

    /// The truncated HMAC of a whole message under a localised key.
    fn mac(self, key: &[u8], msg: &[u8]) -> Vec<u8> {
        with_hash!(self, H => {
            let mut m = <SimpleHmac<H> as Mac>::new_from_slice(key).expect("HMAC takes any key");
            m.update(msg);
            let mut out = m.finalize().into_bytes().to_vec();
            out.truncate(self.mac_len());
            out
        })
    }
}

/// A privacy protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivProtocol {
    /// AES-128 in CFB mode (RFC 3826).
    Aes128,
}

impl PrivProtocol {
    /// `AES` or `AES128` (net-snmp's `-x`), any case. DES is refused: it is broken, and
    /// nothing here implements it.
    pub fn parse(s: &str) -> Option<PrivProtocol> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "aes" | "aes128" => Some(PrivProtocol::Aes128),
            _ => None,
        }
    }

    /// Its name as net-snmp spells it.
    pub fn name(self) -> &'static str {
        "AES"
    }
}

/// An SNMPv3 user to try: a name, and passwords (secrets: never logged, never in a warning).
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The user name (it travels in clear on the wire; warnings name it).
    pub name: String,
    /// The authentication protocol and password, for authNoPriv and authPriv.
    pub auth: Option<(AuthProtocol, String)>,
    /// The privacy protocol and password, for authPriv.
    pub privacy: Option<(PrivProtocol, String)>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("auth", &self.auth.as_ref().map(|a| a.0.name()))
            .field("privacy", &self.privacy.as_ref().map(|p| p.0.name()))
            .finish()
    }
}

/// The shortest password USM allows (RFC 3414 11.2; net-snmp refuses shorter ones too).
pub const MIN_PASSWORD: usize = 8;

impl User {
    /// A user from `NAME`, `NAME:AUTH:PASSWORD` or `NAME:AUTH:PASSWORD:PRIV:PASSWORD`, as
    /// `--snmp-v3` takes it (`\:` and `\\` stand for a colon and a backslash in any part), e.g.
    /// `monitor:SHA-256:auth-secret:AES:priv-secret`. The error says what is wrong without
    /// repeating a password.
    pub fn parse(s: &str) -> Result<User, String> {
        let mut parts = vec![String::new()];
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(n) => parts.last_mut().expect("one part").push(n),
                    None => return Err("it ends with a lone backslash".into()),
                },
                ':' => parts.push(String::new()),
                c => parts.last_mut().expect("one part").push(c),
            }
        }
        match parts.len() {
            1 => User::from_parts(&parts[0], None, None),
            3 => User::from_parts(&parts[0], Some((&parts[1], &parts[2])), None),
            5 => User::from_parts(
                &parts[0],
                Some((&parts[1], &parts[2])),
                Some((&parts[3], &parts[4])),
            ),
            _ => {
                Err("expected NAME, NAME:AUTH:PASSWORD or NAME:AUTH:PASSWORD:PRIV:PASSWORD".into())
            }
        }
    }

    /// A user from its parts: a name, an authentication protocol and password, a privacy
    /// protocol and password (which needs authentication). The error says what is wrong
    /// without repeating a password.
    pub fn from_parts(
        name: &str,
        auth: Option<(&str, &str)>,
        privacy: Option<(&str, &str)>,
    ) -> Result<User, String> {
        if name.is_empty() || name.len() > 32 || name.chars().any(char::is_control) {
            return Err("the user name must have 1 to 32 characters, none a control".into());
        }
        let password = |p: &str, what: &str| -> Result<String, String> {
            if p.len() < MIN_PASSWORD || p.len() > 256 {
                Err(format!(
                    "the {what} password must have {MIN_PASSWORD} to 256 characters"
                ))
            } else {
                Ok(p.to_owned())
            }
        };
        let auth = match auth {
            None => None,
            Some((proto, pw)) => {
                let a = AuthProtocol::parse(proto).ok_or_else(|| {
                    format!(
                        "unknown authentication protocol {proto:?} (MD5, SHA, SHA-224, SHA-256, SHA-384, SHA-512)"
                    )
                })?;
                Some((a, password(pw, "authentication")?))
            }
        };
        let privacy = match privacy {
            None => None,
            Some(_) if auth.is_none() => {
                return Err("privacy needs authentication (an AUTH protocol and password)".into());
            }
            Some((proto, pw)) => {
                let p = PrivProtocol::parse(proto)
                    .ok_or_else(|| format!("unknown privacy protocol {proto:?} (AES)"))?;
                Some((p, password(pw, "privacy")?))
            }
        };
        Ok(User {
            name: name.to_owned(),
            auth,
            privacy,
        })
    }

    /// Its keys from its passwords (the slow step, about a mebibyte hashed per password; done
    /// once per user and scan, then localised per engine).
    pub fn password_keys(&self) -> PasswordKeys {
        let auth = self
            .auth
            .as_ref()
            .map(|(p, pw)| (*p, p.password_key(pw.as_bytes())));
        // The privacy key is made with the authentication protocol's hash (RFC 3826 1.2).
        let privacy = match (&self.auth, &self.privacy) {
            (Some((a, _)), Some((p, pw))) => Some((*p, a.password_key(pw.as_bytes()))),
            _ => None,
        };
        PasswordKeys { auth, privacy }
    }
}

/// A user's keys before localisation.
#[derive(Clone)]
pub struct PasswordKeys {
    auth: Option<(AuthProtocol, Vec<u8>)>,
    privacy: Option<(PrivProtocol, Vec<u8>)>,
}

impl fmt::Debug for PasswordKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordKeys(<hidden>)")
    }
}

impl PasswordKeys {
    /// The keys for one engine.
    pub fn localize(&self, engine_id: &[u8]) -> LocalKeys {
        let auth = self
            .auth
            .as_ref()
            .map(|(p, k)| (*p, p.localize(k, engine_id)));
        let privacy = match (&self.auth, &self.privacy) {
            (Some((a, _)), Some((p, k))) => {
                let mut key = a.localize(k, engine_id);
                key.truncate(16);
                Some((*p, key))
            }
            _ => None,
        };
        LocalKeys { auth, privacy }
    }
}

/// A user's keys for one engine.
#[derive(Clone, Default)]
pub struct LocalKeys {
    auth: Option<(AuthProtocol, Vec<u8>)>,
    privacy: Option<(PrivProtocol, Vec<u8>)>,
}

impl fmt::Debug for LocalKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalKeys(<hidden>)")
    }
}

impl LocalKeys {
    /// No keys: noAuthNoPriv (discovery, or a user without passwords).
    pub fn none() -> LocalKeys {
        LocalKeys::default()
    }

    /// msgFlags for a request with these keys (reportable set).
    fn flags(&self) -> u8 {
        let mut f = FLAG_REPORTABLE;
        if self.auth.is_some() {
            f |= FLAG_AUTH;
        }
        if self.privacy.is_some() {
            f |= FLAG_PRIV;
        }
        f
    }
}

const FLAG_AUTH: u8 = 0x01;
const FLAG_PRIV: u8 = 0x02;
const FLAG_REPORTABLE: u8 = 0x04;
const USM: i64 = 3;
/// The largest message we accept (what fits in a UDP datagram).
pub const MAX_SIZE: i64 = 65_507;

/// The authoritative engine's identity and clock, as a message carries them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Engine {
    /// msgAuthoritativeEngineID.
    pub id: Vec<u8>,
    /// msgAuthoritativeEngineBoots.
    pub boots: u32,
    /// msgAuthoritativeEngineTime (seconds since its last boot).
    pub time: u32,
}

/// The usmStats counters an agent names in a Report, and what each means for the user tried.
pub mod report {
    use super::Oid;

    /// usmStats, 1.3.6.1.6.3.15.1.1.
    const ROOT: [u32; 9] = [1, 3, 6, 1, 6, 3, 15, 1, 1];

    /// Which usmStats counter a Report's first binding is, if it is one.
    pub fn which(oid: &Oid) -> Option<u32> {
        let s = oid.suffix(&Oid(ROOT.to_vec()))?;
        s.first().copied()
    }

    /// usmStatsUnsupportedSecLevels.
    pub const UNSUPPORTED_SEC_LEVEL: u32 = 1;
    /// usmStatsNotInTimeWindows.
    pub const NOT_IN_TIME_WINDOW: u32 = 2;
    /// usmStatsUnknownUserNames.
    pub const UNKNOWN_USER: u32 = 3;
    /// usmStatsUnknownEngineIDs.
    pub const UNKNOWN_ENGINE: u32 = 4;
    /// usmStatsWrongDigests.
    pub const WRONG_DIGEST: u32 = 5;
    /// usmStatsDecryptionErrors.
    pub const DECRYPTION_ERROR: u32 = 6;

    /// Words for a warning.
    pub fn describe(counter: Option<u32>) -> &'static str {
        match counter {
            Some(UNSUPPORTED_SEC_LEVEL) => "its security level is not the user's",
            Some(NOT_IN_TIME_WINDOW) => "its clock window refused the request",
            Some(UNKNOWN_USER) => "unknown user",
            Some(UNKNOWN_ENGINE) => "unknown engine id",
            Some(WRONG_DIGEST) => "wrong authentication password or protocol",
            Some(DECRYPTION_ERROR) => "wrong privacy password or protocol",
            _ => "refused with a report",
        }
    }
}

/// A request's USM parameters.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// msgID (the answer carries it back).
    pub msg_id: i32,
    /// The user (empty for discovery).
    pub user: &'a [u8],
    /// The agent's engine as known (empty for discovery).
    pub engine: &'a Engine,
    /// The keys localised to that engine.
    pub keys: &'a LocalKeys,
    /// The salt of this message (a new one for each message sent).
    pub salt: u64,
}

/// A whole SNMPv3 message carrying `pdu` (from [`pdu::encode_pdu`]), authenticated and
/// encrypted as the keys say.
pub fn encode(out: Outgoing<'_>, pdu: &[u8]) -> Vec<u8> {
    let mut scoped = Vec::with_capacity(pdu.len() + out.engine.id.len() + 8);
    ber::put(&mut scoped, tag::OCTET_STRING, &out.engine.id);
    ber::put(&mut scoped, tag::OCTET_STRING, b"");
    scoped.extend_from_slice(pdu);
    let mut scoped_pdu = Vec::with_capacity(scoped.len() + 4);
    ber::put(&mut scoped_pdu, tag::SEQUENCE, &scoped);

    let mut priv_params = Vec::new();
    let data = match &out.keys.privacy {
        Some((PrivProtocol::Aes128, key)) => {
            priv_params = out.salt.to_be_bytes().to_vec();
            let mut data = scoped_pdu;
            aes_cfb(
                key,
                aes_iv(out.engine.boots, out.engine.time, out.salt),
                &mut data,
                false,
            );
            let mut enc = Vec::with_capacity(data.len() + 4);
            ber::put(&mut enc, tag::OCTET_STRING, &data);
            enc
        }
        None => scoped_pdu,
    };
    let mac_len = out.keys.auth.as_ref().map_or(0, |(p, _)| p.mac_len());

    let mut usm = Vec::with_capacity(64 + out.engine.id.len() + out.user.len());
    ber::put(&mut usm, tag::OCTET_STRING, &out.engine.id);
    ber::put(
        &mut usm,
        tag::INTEGER,
        &ber::int_contents(i64::from(out.engine.boots)),
    );
    ber::put(
        &mut usm,
        tag::INTEGER,
        &ber::int_contents(i64::from(out.engine.time)),
    );
    ber::put(&mut usm, tag::OCTET_STRING, out.user);
    // The MAC's place, zeros while the MAC is computed; where it starts within `usm_seq`.
    let mac_at_in_usm = usm.len() + 2;
    ber::put(&mut usm, tag::OCTET_STRING, &vec![0u8; mac_len]);
    ber::put(&mut usm, tag::OCTET_STRING, &priv_params);
    let mut usm_seq = Vec::with_capacity(usm.len() + 4);
    ber::put(&mut usm_seq, tag::SEQUENCE, &usm);
    let usm_header = usm_seq.len() - usm.len();

    let mut global = Vec::with_capacity(24);
    ber::put(
        &mut global,
        tag::INTEGER,
        &ber::int_contents(i64::from(out.msg_id)),
    );
    ber::put(&mut global, tag::INTEGER, &ber::int_contents(MAX_SIZE));
    ber::put(&mut global, tag::OCTET_STRING, &[out.keys.flags()]);
    ber::put(&mut global, tag::INTEGER, &ber::int_contents(USM));

    let mut body = Vec::with_capacity(usm_seq.len() + data.len() + global.len() + 16);
    ber::put(&mut body, tag::INTEGER, &ber::int_contents(3));
    ber::put(&mut body, tag::SEQUENCE, &global);
    let before_params = body.len();
    ber::put(&mut body, tag::OCTET_STRING, &usm_seq);
    let params_header = body.len() - before_params - usm_seq.len();
    body.extend_from_slice(&data);
    let mut msg = Vec::with_capacity(body.len() + 4);
    ber::put(&mut msg, tag::SEQUENCE, &body);
    let outer_header = msg.len() - body.len();

    if let Some((p, key)) = &out.keys.auth {
        let at = outer_header + before_params + params_header + usm_header + mac_at_in_usm;
        let mac = p.mac(key, &msg);
        msg[at..at + mac_len].copy_from_slice(&mac);
    }
    msg
}

/// Why a message is not a usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsmError {
    /// It does not parse.
    #[error("malformed: {0}")]
    Ber(#[from] BerError),
    /// Not version 3, not USM, or another message id: not an answer to this request.
    #[error("not an answer to this request")]
    NotOurs,
    /// Its MAC does not check out under the user's key.
    #[error("its authentication does not check out")]
    BadDigest,
    /// A Response weaker than the request (no MAC where one was asked for).
    #[error("its security level is lower than the request's")]
    Downgraded,
    /// Its encrypted part does not decrypt into a scoped PDU.
    #[error("it does not decrypt")]
    Decrypt,
}

/// A checked answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// `RESPONSE` or `REPORT`.
    pub pdu_tag: u8,
    /// The PDU.
    pub response: Response,
    /// The sender's engine as the message states it.
    pub engine: Engine,
    /// Whether its MAC was checked (a Report about a bad user comes unauthenticated).
    pub authenticated: bool,
}

/// Reads an SNMPv3 message answering `msg_id`: its MAC is checked and its PDU decrypted with
/// `keys` when its flags say so. An unauthenticated Report is returned (it explains a refusal);
/// an unauthenticated Response to an authenticated request is refused.
pub fn decode(b: &[u8], msg_id: i32, keys: &LocalKeys) -> Result<Incoming, UsmError> {
    let (msg, _) = ber::expect(b, 0, tag::SEQUENCE)?;
    let (v, p) = ber::expect(b, msg.start, tag::INTEGER)?;
    if ber::decode_int(&b[v])? != 3 {
        return Err(UsmError::NotOurs);
    }
    let (global, after_global) = ber::expect(b, p, tag::SEQUENCE)?;
    let (r, g) = ber::expect(b, global.start, tag::INTEGER)?;
    if ber::decode_int(&b[r])? != i64::from(msg_id) {
        return Err(UsmError::NotOurs);
    }
    let (_, g) = ber::expect(b, g, tag::INTEGER)?;
    let (f, g) = ber::expect(b, g, tag::OCTET_STRING)?;
    let flags = *b[f].first().ok_or(BerError::Truncated)?;
    let (m, _) = ber::expect(b, g, tag::INTEGER)?;
    if ber::decode_int(&b[m])? != USM {
        return Err(UsmError::NotOurs);
    }
    let (params, after_params) = ber::expect(b, after_global, tag::OCTET_STRING)?;
    let (usm, _) = ber::expect(b, params.start, tag::SEQUENCE)?;
    if usm.end > params.end {
        return Err(BerError::Truncated.into());
    }
    let (e, u) = ber::expect(b, usm.start, tag::OCTET_STRING)?;
    let (boots, u) = ber::expect(b, u, tag::INTEGER)?;
    let (time, u) = ber::expect(b, u, tag::INTEGER)?;
    let (_, u) = ber::expect(b, u, tag::OCTET_STRING)?;
    let (mac, u) = ber::expect(b, u, tag::OCTET_STRING)?;
    let (salt, _) = ber::expect(b, u, tag::OCTET_STRING)?;
    let clock = |r: std::ops::Range<usize>| -> Result<u32, UsmError> {
        let v = ber::decode_int(&b[r])?;
        Ok(u32::try_from(v.clamp(0, i64::from(i32::MAX))).unwrap_or(0))
    };
    let engine = Engine {
        id: b[e].to_vec(),
        boots: clock(boots)?,
        time: clock(time)?,
    };

    let authenticated = flags & FLAG_AUTH != 0;
    if authenticated {
        let Some((p, key)) = &keys.auth else {
            return Err(UsmError::BadDigest);
        };
        if mac.len() != p.mac_len() {
            return Err(UsmError::BadDigest);
        }
        let mut copy = b.to_vec();
        copy[mac.clone()].fill(0);
        let want = p.mac(key, &copy);
        if !constant_time_eq(&want, &b[mac]) {
            return Err(UsmError::BadDigest);
        }
    }

    let plain;
    let (buf, pos): (&[u8], usize) = if flags & FLAG_PRIV != 0 {
        if !authenticated {
            return Err(UsmError::Decrypt);
        }
        let Some((PrivProtocol::Aes128, key)) = &keys.privacy else {
            return Err(UsmError::Decrypt);
        };
        let (enc, _) = ber::expect(b, after_params, tag::OCTET_STRING)?;
        let salt: [u8; 8] = b[salt].try_into().map_err(|_| UsmError::Decrypt)?;
        let mut data = b[enc].to_vec();
        aes_cfb(
            key,
            aes_iv(engine.boots, engine.time, u64::from_be_bytes(salt)),
            &mut data,
            true,
        );
        plain = data;
        (&plain, 0)
    } else {
        (b, after_params)
    };
    let scoped = ber::expect(buf, pos, tag::SEQUENCE).map_err(|e| {
        if flags & FLAG_PRIV != 0 {
            UsmError::Decrypt
        } else {
            e.into()
        }
    })?;
    let (_, s) = ber::expect(buf, scoped.0.start, tag::OCTET_STRING)?;
    let (_, s) = ber::expect(buf, s, tag::OCTET_STRING)?;
    let (pdu_tag, response) = pdu::decode_pdu(buf, s)?;
    if pdu_tag == pdu::RESPONSE && keys.auth.is_some() && !authenticated {
        return Err(UsmError::Downgraded);
    }
    if pdu_tag == pdu::RESPONSE && keys.privacy.is_some() && flags & FLAG_PRIV == 0 {
        return Err(UsmError::Downgraded);
    }
    Ok(Incoming {
        pdu_tag,
        response,
        engine,
        authenticated,
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// RFC 3826 3.1.2.1: boots, time and the 64-bit salt, big-endian.
fn aes_iv(boots: u32, time: u32, salt: u64) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..4].copy_from_slice(&boots.to_be_bytes());
    iv[4..8].copy_from_slice(&time.to_be_bytes());
    iv[8..].copy_from_slice(&salt.to_be_bytes());
    iv
}

/// AES-128 in CFB-128 mode, in place; the last block may be short (no padding).
pub fn aes_cfb(key: &[u8], iv: [u8; 16], data: &mut [u8], decrypt: bool) {
    let Ok(cipher) = Aes128::new_from_slice(&key[..key.len().min(16)]) else {
        return;
    };
    let mut feedback = iv;
    for chunk in data.chunks_mut(16) {
        let mut block = GenericArray::clone_from_slice(&feedback);
        cipher.encrypt_block(&mut block);
        let mut next = [0u8; 16];
        if decrypt {
            next[..chunk.len()].copy_from_slice(chunk);
        }
        for (c, k) in chunk.iter_mut().zip(block.iter()) {
            *c ^= k;
        }
        if !decrypt {
            next[..chunk.len()].copy_from_slice(chunk);
        }
        feedback = next;
    }
}

/// The request that asks an agent for its engine id, boots and time (RFC 3414 4): no user,
/// no keys, an empty GET.
pub fn discovery(msg_id: i32, request_id: i32) -> Vec<u8> {
    let pdu = pdu::encode_pdu(pdu::GET, request_id, 0, 0, &[]);
    encode(
        Outgoing {
            msg_id,
            user: b"",
            engine: &Engine::default(),
            keys: &LocalKeys::none(),
            salt: 0,
        },
        &pdu,
    )
}

/// Whether a message is an SNMPv3 message at all (so a community decoder need not try it).
pub fn is_v3(b: &[u8]) -> bool {
    ber::expect(b, 0, tag::SEQUENCE)
        .ok()
        .and_then(|(m, _)| ber::expect(b, m.start, tag::INTEGER).ok())
        .and_then(|(v, _)| ber::decode_int(&b[v]).ok())
        == Some(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // RFC 3414 A.3.1 and A.3.2: "maplesyrup", engine id 00…02.
    #[test]
    fn password_keys_match_rfc_3414() {
        let engine = hex("000000000000000000000002");
        let ku = AuthProtocol::Md5.password_key(b"maplesyrup");
        assert_eq!(ku, hex("9faf3283884e92834ebc9847d8edd963"));
        assert_eq!(
            AuthProtocol::Md5.localize(&ku, &engine),
            hex("526f5eed9fcce26f8964c2930787d82b")
        );
        let ku = AuthProtocol::Sha1.password_key(b"maplesyrup");
        assert_eq!(ku, hex("9fb5cc0381497b3793528939ff788d5d79145211"));
        assert_eq!(
            AuthProtocol::Sha1.localize(&ku, &engine),
            hex("6695febc9288e36282235fc7151f128497b38f3f")
        );
    }

    // NIST SP 800-38A F.3.13 (CFB128-AES128.Encrypt), two blocks and a short third.
    #[test]
    fn aes_cfb_matches_nist() {
        let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
        let iv: [u8; 16] = hex("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
        let plain = hex("6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 30c8");
        let mut data = plain.clone();
        aes_cfb(&key, iv, &mut data, false);
        assert_eq!(
            data[..32],
            hex("3b3fd92eb72dad20333449f8e83cfb4a c8a64537a0b3a93fcde3cdad9f1ce58b")[..]
        );
        // The short block is the first bytes of the full one (CFB is a stream).
        assert_eq!(data[32..], hex("26751f67")[..2]);
        aes_cfb(&key, iv, &mut data, true);
        assert_eq!(data, plain);
    }

    #[test]
    fn users_parse_and_hide_their_passwords() {
        let u = User::parse("mon:SHA-256:auth\\:pass1:aes:privpass1").unwrap();
        assert_eq!(u.name, "mon");
        assert_eq!(
            u.auth,
            Some((AuthProtocol::Sha256, "auth:pass1".to_owned()))
        );
        assert_eq!(
            u.privacy,
            Some((PrivProtocol::Aes128, "privpass1".to_owned()))
        );
        let shown = format!("{u:?}");
        assert!(!shown.contains("pass1"), "{shown}");
        assert_eq!(User::parse("plain").unwrap().auth, None);
        for bad in [
            "",
            "u:sha",
            "u:sha:short",
            "u:whirl:longenough",
            "u:sha:longenough:des:longenough",
            "u:sha:longenough:aes",
            "u\\",
        ] {
            let e = User::parse(bad).unwrap_err();
            assert!(!e.contains("longenough"), "{e}");
        }
    }

    fn round_trip(keys: &LocalKeys) {
        let engine = Engine {
            id: b"\x80\x00\x1f\x88\x04scanopy".to_vec(),
            boots: 3,
            time: 1234,
        };
        let oid = Oid::parse("1.3.6.1.2.1.1.5.0").unwrap();
        let p = pdu::encode_pdu(pdu::RESPONSE, 77, 0, 0, std::slice::from_ref(&oid));
        let msg = encode(
            Outgoing {
                msg_id: 9,
                user: b"mon",
                engine: &engine,
                keys,
                salt: 0x0102_0304_0506_0708,
            },
            &p,
        );
        let got = decode(&msg, 9, keys).unwrap();
        assert_eq!(got.pdu_tag, pdu::RESPONSE);
        assert_eq!(got.response.request_id, 77);
        assert_eq!(got.response.bindings, vec![(oid, ber::Value::Null)]);
        assert_eq!(got.engine, engine);
        assert_eq!(got.authenticated, keys.auth.is_some());
        // Read with no keys, an authenticated message is refused, not taken on trust.
        if keys.auth.is_some() {
            assert!(decode(&msg, 9, &LocalKeys::none()).is_err());
        }
        // A flipped bit anywhere in an authenticated message fails its MAC.
        if keys.auth.is_some() {
            for i in [0usize, msg.len() / 2, msg.len() - 1] {
                let mut bad = msg.clone();
                bad[i] ^= 0x10;
                assert!(decode(&bad, 9, keys).is_err());
            }
        }
        assert_eq!(decode(&msg, 10, keys), Err(UsmError::NotOurs));
    }

    #[test]
    fn messages_round_trip_at_every_level() {
        let engine = b"\x80\x00\x1f\x88\x04scanopy";
        for user in [
            "mon",
            "mon:MD5:authpass1",
            "mon:SHA:authpass1:AES:privpass1",
            "mon:SHA-512:authpass1:AES:privpass1",
        ] {
            let keys = User::parse(user).unwrap().password_keys().localize(engine);
            round_trip(&keys);
        }
    }
}
