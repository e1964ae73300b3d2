//! An AWS Signature Version 4 verifier written from AWS's specification ("Create a signed AWS API
//! request"), independent of the signer llmux uses, so the Bedrock fake can prove a request was
//! signed right: it recomputes the canonical request from the bytes it received, the string to
//! sign and the signature with the secret it knows, and compares.

use super::Recorded;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};

type HmacSha256 = Hmac<Sha256>;

/// What the `Authorization` header claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4Claim {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// RFC 3986 encoding as SigV4 wants it: unreserved characters kept, everything else `%XX`.
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Parses `AWS4-HMAC-SHA256 Credential=.../date/region/service/aws4_request,
/// SignedHeaders=a;b, Signature=hex`.
pub fn parse_authorization(value: &str) -> Result<SigV4Claim, String> {
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not AWS4-HMAC-SHA256")?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',').map(str::trim) {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let credential: Vec<&str> = credential.ok_or("no Credential")?.split('/').collect();
    let [key, date, region, service, "aws4_request"] = credential[..] else {
        return Err(format!("malformed Credential scope {credential:?}"));
    };
    Ok(SigV4Claim {
        access_key_id: key.into(),
        date: date.into(),
        region: region.into(),
        service: service.into(),
        signed_headers: signed
            .ok_or("no SignedHeaders")?
            .split(';')
            .map(str::to_string)
            .collect(),
        signature: signature.ok_or("no Signature")?.into(),
    })
}

/// Verifies `req`'s SigV4 signature with `secret`. Checks the algorithm, that `host` and
/// `x-amz-date` are signed, that the date is within AWS's 15 minutes of now, and the signature.
pub fn verify(req: &Recorded, secret: &str) -> Result<SigV4Claim, String> {
    let auth = req
        .header("Authorization")
        .ok_or("no Authorization header")?;
    let claim = parse_authorization(auth)?;
    for needed in ["host", "x-amz-date"] {
        if !claim.signed_headers.iter().any(|h| h == needed) {
            return Err(format!("{needed} is not signed"));
        }
    }
    let amz_date = req.header("X-Amz-Date").ok_or("no X-Amz-Date")?;
    if !amz_date.starts_with(&claim.date) {
        return Err(format!("X-Amz-Date {amz_date} is not on {}", claim.date));
    }
    check_fresh(amz_date)?;
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    // Every service but S3 encodes the (already encoded) path once more.
    let canonical_uri = uri_encode(path, true);
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    params.sort_unstable();
    let canonical_query = params.join("&");
    let mut canonical_headers = String::new();
    for name in &claim.signed_headers {
        let values: Vec<String> = req
            .header_all(name)
            .iter()
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if values.is_empty() {
            return Err(format!("signed header {name} is missing"));
        }
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let canonical_request = format!(
        "{}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{}\n{}",
        req.method,
        claim.signed_headers.join(";"),
        hex(&Sha256::digest(&req.body))
    );
    let scope = format!(
        "{}/{}/{}/aws4_request",
        claim.date, claim.region, claim.service
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), claim.date.as_bytes());
    let k_region = hmac(&k_date, claim.region.as_bytes());
    let k_service = hmac(&k_region, claim.service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let expected = hex(&hmac(&k_signing, string_to_sign.as_bytes()));
    if expected != claim.signature {
        return Err(format!(
            "signature mismatch: expected {expected}, got {}\ncanonical request:\n{canonical_request}",
            claim.signature
        ));
    }
    Ok(claim)
}

/// `YYYYMMDDTHHMMSSZ` within 15 minutes of the clock.
fn check_fresh(amz_date: &str) -> Result<(), String> {
    let n = |r: std::ops::Range<usize>| -> Result<i64, String> {
        amz_date
            .get(r)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad X-Amz-Date {amz_date}"))
    };
    let (y, mo, d, h, mi, s) = (
        n(0..4)?,
        n(4..6)?,
        n(6..8)?,
        n(9..11)?,
        n(11..13)?,
        n(13..15)?,
    );
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let then = days * 86_400 + h * 3600 + mi * 60 + s;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if (now - then).abs() > 15 * 60 {
        return Err(format!("X-Amz-Date {amz_date} is more than 15 minutes off"));
    }
    Ok(())
}
