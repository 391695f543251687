//! Unit tests that need private items of several submodules.

use super::*;

#[test]
fn rfc_accept_key_example() {
    assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}
