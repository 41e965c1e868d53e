//! Image bytes on the wire: their content type, sniffed from the first bytes
//! when the caller gave none, and base64 for the JSON form that parameters
//! need.

use base64::Engine;

/// How many leading bytes [`sniff_image_type`] looks at.
pub const SNIFF_BYTES: usize = 12;

/// The MIME type of an image from its first bytes, for the formats image
/// models take (JPEG, PNG, GIF, WebP, BMP, AVIF); `None` when unknown (the
/// body then goes untyped).
pub fn sniff_image_type(head: &[u8]) -> Option<&'static str> {
    const KINDS: [(&[u8], usize, &str); 7] = [
        (b"\xFF\xD8\xFF", 0, "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
        (b"GIF87a", 0, "image/gif"),
        (b"GIF89a", 0, "image/gif"),
        (b"WEBP", 8, "image/webp"),
        (b"BM", 0, "image/bmp"),
        (b"ftypavif", 4, "image/avif"),
    ];
    KINDS.iter().find_map(|(magic, at, mime)| {
        let riff_ok = *at != 8 || head.starts_with(b"RIFF");
        let found = head.get(*at..at + magic.len()) == Some(*magic);
        (found && riff_ok).then_some(*mime)
    })
}

/// Standard base64 with padding (an image inside a JSON body).
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_types_are_sniffed() {
        assert_eq!(
            sniff_image_type(b"\xFF\xD8\xFF\xE0\0\x10JFIF"),
            Some("image/jpeg")
        );
        assert_eq!(
            sniff_image_type(b"\x89PNG\r\n\x1a\n\0\0\0\x0d"),
            Some("image/png")
        );
        assert_eq!(
            sniff_image_type(b"RIFF\0\0\0\0WEBPVP8 "),
            Some("image/webp")
        );
        assert_eq!(sniff_image_type(b"XXXX\0\0\0\0WEBPVP8 "), None);
        assert_eq!(sniff_image_type(b"GIF89a"), Some("image/gif"));
        assert_eq!(sniff_image_type(b"\0\0\0\x1cftypavif"), Some("image/avif"));
        assert_eq!(sniff_image_type(b"hello"), None);
        assert_eq!(sniff_image_type(b""), None);
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
        assert_eq!(base64(b"\xff\x00"), "/wA=");
    }
}
