//! AWS Signature Version 4 for Bedrock requests, with AWS's own signer (`aws-sigv4`): service
//! `bedrock`, the target's region and keys (resolved at load), the `Host`, `Content-Type` and
//! body signed, `X-Amz-Date`, `Authorization` and, with temporary keys, `X-Amz-Security-Token`
//! added. Plain computation (HMAC-SHA256 of a few hundred bytes plus one SHA-256 of the body):
//! nothing blocks.

use crate::config::AwsSigning;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use std::time::SystemTime;

/// The headers to add, as `(name, value)`.
pub(crate) fn sign_request(
    aws: &AwsSigning,
    method: &str,
    host: &str,
    path_and_query: &str,
    content_type: &str,
    body: &[u8],
    time: SystemTime,
) -> Result<Vec<(&'static str, String)>, String> {
    let identity = Credentials::new(
        aws.access_key_id.as_str(),
        aws.secret_access_key.as_str(),
        aws.session_token.clone(),
        None,
        "llmux-config",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&aws.region)
        .name("bedrock")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("SigV4 parameters: {e}"))?
        .into();
    let uri = format!("https://{host}{path_and_query}");
    let headers = [("host", host), ("content-type", content_type)];
    let request = SignableRequest::new(method, uri, headers.into_iter(), SignableBody::Bytes(body))
        .map_err(|e| format!("SigV4 request: {e}"))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| format!("SigV4 signing: {e}"))?
        .into_parts();
    Ok(instructions
        .into_parts()
        .0
        .into_iter()
        .map(|h| (h.name(), h.value().to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn signs_with_date_credentials_and_token() {
        let aws = AwsSigning {
            region: "us-east-1".into(),
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: Some("token".into()),
        };
        // 2015-08-30T12:36:00Z, the date of AWS's SigV4 test suite.
        let time = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        let headers = sign_request(
            &aws,
            "POST",
            "bedrock-runtime.us-east-1.amazonaws.com",
            "/model/m%3A0/converse",
            "application/json",
            b"{}",
            time,
        )
        .unwrap();
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(get("x-amz-security-token"), Some("token"));
        let auth = get("authorization").unwrap();
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="
            ),
            "{auth}"
        );
    }
}
