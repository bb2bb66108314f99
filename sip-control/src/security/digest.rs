//! Server side of SIP digest authentication (RFC 3261 §22, RFC 2617,
//! RFC 7616, RFC 8760): challenges out, `Authorization` values checked.
//!
//! Stateless: nonces carry their issue time under a MAC (`nonce.rs`),
//! so nothing is stored per challenge. The cost is that a response can be
//! replayed while its nonce is fresh (nonce counts are not tracked); keep
//! the nonce lifetime short and prefer TLS toward carriers.

use super::algorithm::{Algorithm, AlgorithmError};
use super::auth_params::{quote, AuthParams, ParamsError};
use super::nonce;
use std::cmp::Reverse;
use std::fmt;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// The one set of credentials a request is checked against (a trunk's).
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// Realm the trunk is challenged in.
    pub realm: &'a str,
    /// Expected username.
    pub username: &'a str,
    /// Shared password.
    pub password: &'a str,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("realm", &self.realm)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A request whose credentials checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The authenticated username.
    pub username: String,
    /// The algorithm the client answered with.
    pub algorithm: Algorithm,
    /// The `uri` parameter, for callers that compare it with the
    /// Request-URI.
    pub uri: String,
}

/// Why credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The header value cannot be parsed.
    #[error("malformed credentials: {0}")]
    Malformed(#[from] ParamsError),
    /// A parameter the response needs is absent.
    #[error("credentials lack the {0} parameter")]
    MissingParam(&'static str),
    /// A parameter has a value this server cannot use (`nc` not 8 hex
    /// digits, `userhash=true`).
    #[error("credentials have an invalid {0} parameter")]
    InvalidParam(&'static str),
    /// Another scheme (`Basic`, `Bearer`, ...).
    #[error("credentials are not Digest")]
    NotDigest,
    /// `algorithm` names something not supported.
    #[error(transparent)]
    UnsupportedAlgorithm(#[from] AlgorithmError),
    /// `realm` is not the trunk's.
    #[error("wrong realm")]
    WrongRealm,
    /// `username` is not the trunk's.
    #[error("unknown username")]
    UnknownUser,
    /// The nonce was not minted by this server for this realm and
    /// algorithm: forged, garbage, or from before a secret change.
    #[error("nonce not issued here")]
    BadNonce,
    /// The response is right but its nonce expired: challenge again with
    /// `stale=true`. Not a failed attempt.
    #[error("nonce expired")]
    StaleNonce,
    /// A `qop` other than `auth` (`auth-int` included).
    #[error("unsupported qop")]
    UnsupportedQop,
    /// The response does not match the password.
    #[error("wrong response")]
    WrongResponse,
}

impl AuthError {
    /// Whether this refusal should count toward a lock-out: every one but
    /// [`AuthError::StaleNonce`].
    pub fn counts_as_failure(&self) -> bool {
        !matches!(self, AuthError::StaleNonce)
    }
}

/// Issues challenges and verifies responses with a secret of its own.
#[derive(Clone)]
pub struct DigestServer {
    secret: [u8; 32],
    nonce_lifetime: Duration,
    epoch: Instant,
}

impl fmt::Debug for DigestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestServer")
            .field("nonce_lifetime", &self.nonce_lifetime)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// `qop=auth` fields of a response.
struct QopAuth<'a> {
    qop: &'a str,
    nc: &'a str,
    cnonce: &'a str,
}

impl DigestServer {
    /// A server whose nonces are MACed with `secret` (random, drawn by the
    /// caller at start-up), stay fresh for `nonce_lifetime`, and count
    /// time from `epoch`.
    pub fn new(secret: [u8; 32], nonce_lifetime: Duration, epoch: Instant) -> Self {
        DigestServer {
            secret,
            nonce_lifetime,
            epoch,
        }
    }

    /// `WWW-Authenticate` (or `Proxy-Authenticate`) values, one per
    /// distinct algorithm, strongest first. `stale` marks a re-challenge
    /// after [`AuthError::StaleNonce`]. `realm` must not hold CR or LF.
    pub fn challenge(
        &self,
        realm: &str,
        algorithms: &[Algorithm],
        stale: bool,
        now: Instant,
    ) -> Vec<String> {
        let mut algs: Vec<Algorithm> = Vec::with_capacity(algorithms.len());
        for a in algorithms {
            if !algs.contains(a) {
                algs.push(*a);
            }
        }
        algs.sort_by_key(|a| Reverse(a.strength()));
        let issued = self.seconds(now);
        algs.into_iter()
            .map(|a| {
                let nonce = nonce::issue(&self.secret, issued, a, realm);
                let mut h = format!(
                    "Digest realm={}, nonce=\"{nonce}\", algorithm={a}, qop=\"auth\"",
                    quote(realm)
                );
                if stale {
                    h.push_str(", stale=true");
                }
                h
            })
            .collect()
    }

    /// Checks an `Authorization` (or `Proxy-Authorization`) value of a
    /// request with this `method` against `creds`.
    ///
    /// Accepts `qop=auth` (with `nc` and `cnonce`) and RFC 2069 responses
    /// without `qop`; a missing `algorithm` means MD5. The `uri` parameter
    /// is hashed as given and returned in [`Verified`].
    pub fn verify(
        &self,
        method: &str,
        authorization: &str,
        creds: &Credentials<'_>,
        now: Instant,
    ) -> Result<Verified, AuthError> {
        // The scheme first: other schemes' syntax (`Basic token68`) is not
        // a parameter list.
        let scheme = authorization
            .trim_start_matches(is_lws)
            .split(is_lws)
            .next()
            .unwrap_or_default();
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::NotDigest);
        }
        let p = AuthParams::parse(authorization)?;
        let algorithm = match p.get("algorithm") {
            None => Algorithm::Md5,
            Some(a) => a.parse()?,
        };
        let username = required(&p, "username")?;
        let realm = required(&p, "realm")?;
        let nonce = required(&p, "nonce")?;
        let uri = required(&p, "uri")?;
        let response = required(&p, "response")?;
        if p.get("userhash")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Err(AuthError::InvalidParam("userhash"));
        }
        if realm != creds.realm {
            return Err(AuthError::WrongRealm);
        }
        if username != creds.username {
            return Err(AuthError::UnknownUser);
        }
        let issued =
            nonce::open(&self.secret, nonce, algorithm, realm).ok_or(AuthError::BadNonce)?;
        let qop = match p.get("qop") {
            None => None,
            Some(qop) if qop.eq_ignore_ascii_case("auth") => {
                let nc = required(&p, "nc")?;
                if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(AuthError::InvalidParam("nc"));
                }
                let cnonce = required(&p, "cnonce")?;
                Some(QopAuth { qop, nc, cnonce })
            }
            Some(_) => return Err(AuthError::UnsupportedQop),
        };
        let expected = expected_response(
            algorithm,
            creds.password,
            username,
            realm,
            method,
            uri,
            nonce,
            qop.as_ref(),
        );
        let got = response.to_ascii_lowercase();
        if !bool::from(expected.as_bytes().ct_eq(got.as_bytes())) {
            return Err(AuthError::WrongResponse);
        }
        if !self.fresh(issued, now) {
            return Err(AuthError::StaleNonce);
        }
        Ok(Verified {
            username: username.to_owned(),
            algorithm,
            uri: uri.to_owned(),
        })
    }

    /// Whole seconds from the epoch to `now` (0 before the epoch).
    fn seconds(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_secs()
    }

    /// A nonce from the future (another epoch sharing the secret) is
    /// treated as stale rather than forged.
    fn fresh(&self, issued: u64, now: Instant) -> bool {
        match self.seconds(now).checked_sub(issued) {
            Some(age) => Duration::from_secs(age) <= self.nonce_lifetime,
            None => false,
        }
    }
}

fn is_lws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn required<'p>(p: &'p AuthParams<'_>, name: &'static str) -> Result<&'p str, AuthError> {
    p.get(name).ok_or(AuthError::MissingParam(name))
}

/// The `response` a client with the right password sends (RFC 7616 §3.4.1,
/// RFC 2069 when `qop` is absent).
#[allow(clippy::too_many_arguments, reason = "the fields of the RFC formula")]
fn expected_response(
    algorithm: Algorithm,
    password: &str,
    username: &str,
    realm: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    qop: Option<&QopAuth<'_>>,
) -> String {
    let ha1 = algorithm.hash_hex(&[username, realm, password]);
    let ha2 = algorithm.hash_hex(&[method, uri]);
    match qop {
        Some(q) => algorithm.hash_hex(&[&ha1, nonce, q.nc, q.cnonce, q.qop, &ha2]),
        None => algorithm.hash_hex(&[&ha1, nonce, &ha2]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [42; 32];
    const LIFETIME: Duration = Duration::from_secs(60);
    const CREDS: Credentials<'static> = Credentials {
        realm: "trunk.example",
        username: "carrier",
        password: "s3cret",
    };
    const URI: &str = "sip:+15551234567@sluice.example";

    fn server(epoch: Instant) -> DigestServer {
        DigestServer::new(SECRET, LIFETIME, epoch)
    }

    /// What a UAC does with one challenge: an `Authorization` value.
    fn answer(challenge: &str, method: &str, user: &str, password: &str, qop: bool) -> String {
        let c = AuthParams::parse(challenge).unwrap();
        let alg: Algorithm = c.get("algorithm").unwrap().parse().unwrap();
        let realm = c.get("realm").unwrap();
        let nonce = c.get("nonce").unwrap();
        let (nc, cnonce) = ("00000001", "0a4f113b");
        let ha1 = alg.hash_hex(&[user, realm, password]);
        let ha2 = alg.hash_hex(&[method, URI]);
        let mut out = format!(
            "Digest username={}, realm={}, nonce={}, uri={}, algorithm={alg}",
            quote(user),
            quote(realm),
            quote(nonce),
            quote(URI)
        );
        if qop {
            let r = alg.hash_hex(&[&ha1, nonce, nc, cnonce, "auth", &ha2]);
            out += &format!(", response=\"{r}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\"");
        } else {
            let r = alg.hash_hex(&[&ha1, nonce, &ha2]);
            out += &format!(", response=\"{r}\"");
        }
        out
    }

    /// The challenge for `alg` alone.
    fn one(s: &DigestServer, alg: Algorithm, now: Instant) -> String {
        s.challenge(CREDS.realm, &[alg], false, now).remove(0)
    }

    #[test]
    fn rfc7616_examples() {
        let qop = QopAuth {
            qop: "auth",
            nc: "00000001",
            cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        };
        let response = |alg| {
            expected_response(
                alg,
                "Circle of Life",
                "Mufasa",
                "http-auth@example.org",
                "GET",
                "/dir/index.html",
                "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                Some(&qop),
            )
        };
        assert_eq!(response(Algorithm::Md5), "8ca523f5e9506fed4657c9700eebdbec");
        assert_eq!(
            response(Algorithm::Sha256),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn challenge_shape() {
        let t0 = Instant::now();
        let s = server(t0);
        let c = s.challenge(
            "a \"b\"",
            &[Algorithm::Md5, Algorithm::Sha256, Algorithm::Md5],
            false,
            t0,
        );
        assert_eq!(c.len(), 2);
        let sha = AuthParams::parse(&c[0]).unwrap();
        assert_eq!(sha.scheme(), "Digest");
        assert_eq!(sha.get("realm"), Some("a \"b\""));
        assert_eq!(sha.get("algorithm"), Some("SHA-256"));
        assert_eq!(sha.get("qop"), Some("auth"));
        assert_eq!(sha.get("stale"), None);
        let md5 = AuthParams::parse(&c[1]).unwrap();
        assert_eq!(md5.get("algorithm"), Some("MD5"));
        assert_ne!(sha.get("nonce"), md5.get("nonce"));
        assert!(c[0].starts_with("Digest realm=\"a \\\"b\\\"\", nonce=\""));

        let stale = s.challenge("r", &[Algorithm::Sha256], true, t0);
        assert!(stale[0].ends_with(", stale=true"), "{}", stale[0]);
        assert!(s.challenge("r", &[], false, t0).is_empty());
    }

    #[test]
    fn round_trip_both_algorithms_with_and_without_qop() {
        let t0 = Instant::now();
        let s = server(t0);
        for alg in [Algorithm::Sha256, Algorithm::Md5] {
            for qop in [true, false] {
                let c = one(&s, alg, t0);
                let auth = answer(&c, "INVITE", "carrier", "s3cret", qop);
                let v = s
                    .verify("INVITE", &auth, &CREDS, t0 + Duration::from_secs(5))
                    .unwrap();
                assert_eq!(v.username, "carrier");
                assert_eq!(v.algorithm, alg);
                assert_eq!(v.uri, URI);
            }
        }
    }

    #[test]
    fn wrong_password_method_or_response() {
        let t0 = Instant::now();
        let s = server(t0);
        let c = one(&s, Algorithm::Sha256, t0);
        let auth = answer(&c, "INVITE", "carrier", "guess", true);
        assert_eq!(
            s.verify("INVITE", &auth, &CREDS, t0),
            Err(AuthError::WrongResponse)
        );
        let auth = answer(&c, "INVITE", "carrier", "s3cret", true);
        assert_eq!(
            s.verify("BYE", &auth, &CREDS, t0),
            Err(AuthError::WrongResponse)
        );
        // Uppercase hex is the same response.
        let p = AuthParams::parse(&auth).unwrap();
        let r = p.get("response").unwrap();
        let upper = auth.replace(r, &r.to_ascii_uppercase());
        assert!(s.verify("INVITE", &upper, &CREDS, t0).is_ok());
        let short = auth.replace(r, &r[..10]);
        assert_eq!(
            s.verify("INVITE", &short, &CREDS, t0),
            Err(AuthError::WrongResponse)
        );
    }

    #[test]
    fn expired_nonce_is_stale_only_with_the_right_password() {
        let t0 = Instant::now();
        let s = server(t0);
        let c = one(&s, Algorithm::Sha256, t0);
        let good = answer(&c, "INVITE", "carrier", "s3cret", true);
        let bad = answer(&c, "INVITE", "carrier", "guess", true);
        let edge = t0 + LIFETIME;
        assert!(s.verify("INVITE", &good, &CREDS, edge).is_ok());
        let late = t0 + LIFETIME + Duration::from_secs(1);
        let err = s.verify("INVITE", &good, &CREDS, late).unwrap_err();
        assert_eq!(err, AuthError::StaleNonce);
        assert!(!err.counts_as_failure());
        assert_eq!(
            s.verify("INVITE", &bad, &CREDS, late),
            Err(AuthError::WrongResponse)
        );
        // A nonce from a later epoch sharing the secret: stale, not forged.
        let other = server(t0 - Duration::from_secs(100));
        let c = one(&other, Algorithm::Sha256, t0);
        let auth = answer(&c, "INVITE", "carrier", "s3cret", true);
        assert_eq!(
            s.verify("INVITE", &auth, &CREDS, t0),
            Err(AuthError::StaleNonce)
        );
    }

    #[test]
    fn tampered_or_foreign_nonce_is_bad() {
        let t0 = Instant::now();
        let s = server(t0);
        let c = one(&s, Algorithm::Sha256, t0);
        let auth = answer(&c, "INVITE", "carrier", "s3cret", true);
        let nonce = AuthParams::parse(&c)
            .unwrap()
            .get("nonce")
            .unwrap()
            .to_owned();
        let mut flipped = nonce.clone().into_bytes();
        flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        for forged in [flipped.as_str(), "garbage", ""] {
            let auth = auth.replace(&nonce, forged);
            assert_eq!(
                s.verify("INVITE", &auth, &CREDS, t0),
                Err(AuthError::BadNonce),
                "{forged:?}"
            );
        }
        let other = DigestServer::new([1; 32], LIFETIME, t0);
        let err = other.verify("INVITE", &auth, &CREDS, t0).unwrap_err();
        assert_eq!(err, AuthError::BadNonce);
        assert!(err.counts_as_failure());
    }

    #[test]
    fn algorithm_must_match_the_challenge() {
        let t0 = Instant::now();
        let s = server(t0);
        let c = one(&s, Algorithm::Sha256, t0);
        let md5 = c.replace("algorithm=SHA-256", "algorithm=MD5");
        let auth = answer(&md5, "INVITE", "carrier", "s3cret", true);
        assert_eq!(
            s.verify("INVITE", &auth, &CREDS, t0),
            Err(AuthError::BadNonce)
        );
        // No algorithm parameter means MD5.
        let c = one(&s, Algorithm::Md5, t0);
        let auth = answer(&c, "INVITE", "carrier", "s3cret", true).replace(", algorithm=MD5", "");
        assert_eq!(
            s.verify("INVITE", &auth, &CREDS, t0).unwrap().algorithm,
            Algorithm::Md5
        );
    }

    #[test]
    fn refusals() {
        let t0 = Instant::now();
        let s = server(t0);
        let c = one(&s, Algorithm::Sha256, t0);
        let auth = answer(&c, "INVITE", "carrier", "s3cret", true);
        let check = |a: &str| s.verify("INVITE", a, &CREDS, t0);

        assert!(matches!(
            check("Digest a=\"x"),
            Err(AuthError::Malformed(_))
        ));
        assert_eq!(
            check("Digest a=1 b=2"),
            Err(AuthError::Malformed(ParamsError::ExpectedComma(11)))
        );
        assert_eq!(check(""), Err(AuthError::NotDigest));
        assert_eq!(check("Basic Y2Fycmllcjpz"), Err(AuthError::NotDigest));
        assert_eq!(check("Basic realm=x"), Err(AuthError::NotDigest));
        assert!(matches!(
            check(&auth.replace("algorithm=SHA-256", "algorithm=SHA-256-sess")),
            Err(AuthError::UnsupportedAlgorithm(AlgorithmError::Session(_)))
        ));
        assert_eq!(
            check(&auth.replace("username=", "user=")),
            Err(AuthError::MissingParam("username"))
        );
        assert_eq!(
            check(&auth.replace("response=", "resp=")),
            Err(AuthError::MissingParam("response"))
        );
        assert_eq!(
            check(&auth.replace("realm=\"trunk.example\"", "realm=\"other\"")),
            Err(AuthError::WrongRealm)
        );
        assert_eq!(
            check(&auth.replace("username=\"carrier\"", "username=\"someone\"")),
            Err(AuthError::UnknownUser)
        );
        assert_eq!(
            check(&auth.replace("qop=auth", "qop=auth-int")),
            Err(AuthError::UnsupportedQop)
        );
        assert_eq!(
            check(&auth.replace("nc=00000001", "nc=1")),
            Err(AuthError::InvalidParam("nc"))
        );
        assert_eq!(
            check(&auth.replace("nc=00000001", "nc=0000000g")),
            Err(AuthError::InvalidParam("nc"))
        );
        assert_eq!(
            check(&auth.replace(", cnonce=\"0a4f113b\"", "")),
            Err(AuthError::MissingParam("cnonce"))
        );
        assert_eq!(
            check(&format!("{auth}, userhash=true")),
            Err(AuthError::InvalidParam("userhash"))
        );
        assert!(check(&format!("{auth}, userhash=false")).is_ok());
        assert!(check(&auth.replace("Digest ", "digest ")).is_ok());
    }

    #[test]
    fn debug_hides_secrets() {
        let s = format!("{:?} {:?}", server(Instant::now()), CREDS);
        assert!(!s.contains("42, 42"), "{s}");
        assert!(!s.contains("s3cret"), "{s}");
    }
}
